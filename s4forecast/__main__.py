from s4forecast.cli import main

main()
