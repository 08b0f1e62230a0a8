from verno.cli.main import main

main()
