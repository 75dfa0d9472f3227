"""What a tournament hands the user: the mixture of its best generators (weighted without an
oracle: Nash, held-out data; or by rating), filtered by a panel of its discriminators."""
