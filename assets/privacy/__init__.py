"""Personal data: the suppression list of erased people, finding a person's records, erasing them."""
