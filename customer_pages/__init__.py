"""What a person or another system sees of a customer: the home page, the directory, the
customer page and the customers API. They read every app's data of a customer (touchpoints,
journeys, memory), so they sit above those apps; `customers` holds only the customers."""
