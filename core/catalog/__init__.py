"""Read, validate and convert GZ1 catalogues; statistics, exports and the sky map."""
