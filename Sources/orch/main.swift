import Orchestrator

OrchMain.run()
