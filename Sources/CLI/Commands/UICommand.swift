import ArgumentParser
import OrchCore
import UI

struct UICommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ui",
    abstract: "Serve a live web view of the store: sweeps, runs, curves, job logs, analyses, SLURM submissions.",
    discussion: """
      Prints the URL to open, with its access token (every request needs it). It reads the \
      store read-only in its own process; cancel, retry, hold and release from the page go \
      through the same operations as the commands.

      Examples:
        orch ui                   then open the URL it prints:
                                  http://127.0.0.1:8265/?token=...
        orch ui --port 0 --open   a free port, opened in a browser
        From a laptop: ssh -L 8265:127.0.0.1:8265 login-node,
          run `orch ui` there, open its URL.
      """)

  @Option(help: "Port to listen on (0: a free one, printed).") var port: Int = 8265
  @Option(help: "Address to bind; anything but 127.0.0.1/localhost/::1 exposes the store to the network.")
  var host: String = "127.0.0.1"
  @Option(help: "The access token (default: a random one, printed in the URL).") var token: String?
  @Flag(help: "Open the URL in a browser, where one exists.") var open = false

  func run() throws {
    try UIServer.run(.init(host: host, port: port, token: token, open: open), home: try OrchHome())
  }
}
