from outpack.cli.main import main

raise SystemExit(main())
