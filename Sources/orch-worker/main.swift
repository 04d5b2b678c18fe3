import Foundation
import Worker

exit(WorkerCommand.main(CommandLine.arguments))
