"""`python -m cirn.egress.service --ip 127.0.0.1 --port 8082`: run the service (the hub starts it)."""

from .app import main

main()
