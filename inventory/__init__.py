"""inventory: a REST API that keeps an e-commerce catalogue and its stock right."""
