"""The rendered Containerfiles (wheels stage, runtime stage, the builder) and their checks."""
