"""The system tests: ShareCheck as separate processes (`sharecheck serve`, scheduler processes, instances side by
side, the command line) and the Teams system test in Microsoft's Agents Playground."""
