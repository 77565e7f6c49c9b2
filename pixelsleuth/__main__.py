from pixelsleuth.cli import main

main()
