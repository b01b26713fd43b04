"""HTTP clients for Shopify and the suppliers, shared by the API and the workers."""
