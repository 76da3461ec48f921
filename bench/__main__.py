"""`python -m bench` (what `make bench` runs); `python -m bench --help` for the options."""
from bench.run import main

raise SystemExit(main())
