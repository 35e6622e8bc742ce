import Foundation
import TestSupport
import Testing

/// `afsearch evolve` run again on a finished study.
@Suite struct EvolveCommandTests {
    /// The same command a second time replays the stored generations instead of training, and says so (its
    /// output has no timing line to tell a user otherwise).
    @Test func aFinishedRunRunAgainSaysItReplayed() throws {
        let cli = try CLI()
        let data = try WorkerFaultTests.writeData(cli)
        let command = ["evolve", "--dataset", data.path, "--generations", "2", "--population", "2", "--epochs", "1",
                       "--final-epochs", "1", "--train-rows", "120", "--validation-rows", "60", "--test-rows", "60",
                       "--width", "4", "--hidden-layers", "1", "--study", "again"]
        let first = try cli.run(command, environment: ["POCL_MAX_PTHREAD_COUNT": "1"], timeout: 300)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("time over 2 generation(s)") && !first.stdout.contains("replayed"))
        let second = try cli.run(command, environment: ["POCL_MAX_PTHREAD_COUNT": "1"], timeout: 300)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("all 2 generation(s) replayed from the stored study, none trained again"))
        #expect(!second.stdout.contains("time over"))
    }
}
