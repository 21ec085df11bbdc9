"""The command line the Makefile calls (`tcibsrc <command>`), one module a command."""
