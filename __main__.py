from copilot.cli.main import main

main()
