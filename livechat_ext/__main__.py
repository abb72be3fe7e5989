"""`python -m livechat_ext ...` is `livechat-ext ...`."""

from .cli import main

raise SystemExit(main())
