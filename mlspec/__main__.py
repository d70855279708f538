from mlspec.compiler.cli import main

raise SystemExit(main())
