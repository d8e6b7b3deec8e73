"""The API's routes, one module per area: orders, store, kafka, schemas, live."""
