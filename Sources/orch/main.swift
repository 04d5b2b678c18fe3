import CLI

OrchMain.run()
