"""Standard-library programs that leave the toolkit: the wheels stage's program ships into the
builder image, the runtime checker runs on the images' Python. Neither imports tcibsrc."""
