"""TCIB's image definitions read as TCIB reads them, the scope, the RPM classification, the
catalog every later stage derives from, the image graph and the operators' contract."""
