import sys

from ncodec.cli.main import main

sys.exit(main())
