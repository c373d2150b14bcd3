"""placeholder"""

SPECS = ()
