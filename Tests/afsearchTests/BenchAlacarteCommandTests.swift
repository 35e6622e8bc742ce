import Foundation
import Testing

/// `afsearch bench alacarte` on a tiny workload: afsearch's streamed study, then a stand-in peer (a shell
/// script in the peer's place) that checks the split files it is given and answers with the peer's JSON line.
@Suite struct BenchAlacarteCommandTests {
    static func csv() -> String {
        var lines = ["f0,f1,f2,f3,label"]
        for i in 0..<72 {
            let k = i % 3
            let features = (0..<4).map { j in (j == k ? 2.0 : 0.0) + 0.4 * sin(Double(i * 7 + j * 13)) }
            lines.append(features.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(k)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Prints the peer's JSON with the row counts of the CSVs it was handed (header excluded), and keeps the
    /// functions file it was handed beside itself.
    static let standIn = """
        while [ $# -gt 0 ]; do case "$1" in --train) train=$2;; --validation) val=$2;; --trials) trials=$2;; --batch) batch=$2;; --functions) cp "$2" "$(dirname "$0")/functions-seen.json";; esac; shift; done
        head -1 "$train" | grep -q '^f0,f1,f2,f3,label$' || { echo "bad header" >&2; exit 3; }
        tr=$(($(wc -l < "$train") - 1)); va=$(($(wc -l < "$val") - 1))
        echo "{\\"trials\\": $trials, \\"candidate_epochs\\": $((trials * 10)), \\"wall_seconds\\": 2.0, \\"trials_per_second\\": 1.5, \\"candidate_epochs_per_second\\": 15.0, \\"median_epochs\\": 10, \\"diverged\\": 0, \\"torch_version\\": \\"stand-in $tr/$va${batch:+ batch $batch}\\", \\"threads\\": 1}"
        """

    /// The vendor GEMM peer's stand-in: answers a rate far above any device's, with the widths and rows it was
    /// handed in its version string.
    static let gemmStandIn = """
        while [ $# -gt 0 ]; do case "$1" in --widths) widths=$2;; --train) tr=$2;; --validation) va=$2;; esac; shift; done
        echo "{\\"torch_version\\": \\"stand-in $widths $tr/$va\\", \\"threads\\": 2, \\"gflops\\": 1000000.0, \\"mflop\\": 1.0}"
        """

    @Test func benchAlacarteStreamsAStudyAndComparesItWithThePeer() throws {
        let cli = try CLI()
        let data = cli.root.appendingPathComponent("tiny.csv"), peer = cli.root.appendingPathComponent("peer.sh")
        let gemmPeer = cli.root.appendingPathComponent("gemm.sh")
        try Self.csv().write(to: data, atomically: true, encoding: .utf8)
        try Self.standIn.write(to: peer, atomically: true, encoding: .utf8)
        try Self.gemmStandIn.write(to: gemmPeer, atomically: true, encoding: .utf8)
        let result = try cli.run(["bench", "alacarte", "--datasets", data.path, "--trials", "12", "--population", "4",
                                  "--depth", "3", "--epochs", "15", "--patience", "3", "--menu", "relu,tanh,prelu(x; a=0.25),softmax",
                                  "--peer-trials", "5", "--python", "/bin/sh", "--peer-script", peer.path,
                                  "--gemm-peer-script", gemmPeer.path, "--bound", "--json"],
                                 timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        let entry = try #require((report["runs"] as? [[String: Any]])?.first)
        let run = try #require(entry["afsearch"] as? [String: Any])
        #expect(run["trials"] as? Int == 12)
        #expect((run["candidateEpochs"] as? Int ?? 0) >= 12, "every trial trained at least one epoch")
        let pool = try #require(run["pool"] as? [String: Any])
        #expect(pool["slots"] as? Int == 4)
        #expect((pool["candidateEpochs"] as? Int ?? 0) <= (pool["slotEpochs"] as? Int ?? 0))
        let peerRun = try #require(entry["peer"] as? [String: Any])
        // 72 rows: 30 % test, then 20 % of the rest for validation; the peer saw the same split.
        let trainRows = try #require(run["trainRows"] as? Int), validationRows = try #require(run["validationRows"] as? Int)
        #expect(peerRun["torch_version"] as? String == "stand-in \(trainRows)/\(validationRows)")
        #expect(peerRun["trials"] as? Int == 5)
        // A menu of expressions is not the peer's: it draws its own trials.
        let seenFile = cli.root.appendingPathComponent("functions-seen.json")
        #expect(!FileManager.default.fileExists(atPath: seenFile.path))
        #expect(entry["afsearchOnPeerTrials"] == nil, "no same-trials summary when the peer drew its own")
        #expect(try #require(run["trialLog"] as? [[String: Any]]).count == 12)
        // --bound: the device's GEMM peak and the menu's span costs, measured in the same run, give the study's
        // bound, of which afsearch reached a share (it cannot beat a bound that leaves out everything else).
        let bound = try #require(entry["bound"] as? [String: Any], "\(entry.keys)")
        let boundRate = try #require(bound["candidateEpochsPerSecond"] as? Double), share = try #require(bound["share"] as? Double)
        #expect((bound["measuredPeakGFLOPs"] as? Double ?? 0) > 0 && (bound["activationMicroseconds"] as? Double ?? 0) > 0)
        #expect(share > 0 && share < 1, "afsearch at \(share) of its device bound \(boundRate)")
        // The vendor GEMM peer was handed the study's widths (4 features, 2 hidden layers of 64, 3 classes) and
        // rows, and its rate, higher than afsearch's, prices the bound's GEMMs.
        let vendor = try #require(entry["gemmPeer"] as? [String: Any], "\(entry.keys)")
        #expect(vendor["torch_version"] as? String == "stand-in 4,64,64,3 \(trainRows)/\(validationRows)")
        #expect(bound["vendorGFLOPs"] as? Double == 1e6 && bound["peakGFLOPs"] as? Double == 1e6)
        #expect((bound["measuredPeakGFLOPs"] as? Double ?? .infinity) < 1e6)
        #expect((bound["gemmOnlyCandidateEpochsPerSecond"] as? Double ?? 0) > boundRate)
        let ratio = try #require(entry["candidateEpochRatio"] as? Double)
        #expect(abs(ratio - (run["wallSeconds"] as? Double).map { Double(run["candidateEpochs"] as! Int) / $0 / 15.0 }!) < 1e-9)

        // Mini-batches: afsearch streams them through the pool, and the peer is told the batch size.
        // With paper1 the peer is handed afsearch's first trials' functions, and afsearch's numbers over them.
        let mini = try cli.run(["bench", "alacarte", "--datasets", data.path, "--trials", "6", "--population", "3",
                                "--depth", "3", "--epochs", "6", "--batch", "8",
                                "--peer-trials", "2", "--python", "/bin/sh", "--peer-script", peer.path, "--json"])
        #expect(mini.status == 0, "\(mini.stderr)")
        let miniEntry = try #require(((mini.json as? [String: Any])?["runs"] as? [[String: Any]])?.first, "\(mini.stdout)")
        let miniRun = try #require(miniEntry["afsearch"] as? [String: Any])
        let miniPool = try #require(miniRun["pool"] as? [String: Any])
        let steps = try #require(miniPool["steps"] as? Int), rows = try #require(miniRun["trainRows"] as? Int)
        #expect(steps > 0 && steps % ((rows + 7) / 8) == 0, "whole epochs of ceil(\(rows) / 8) steps: \(steps)")
        #expect((miniEntry["peer"] as? [String: Any])?["torch_version"] as? String == "stand-in \(rows)/\(validationRows) batch 8")
        let log = try #require(miniRun["trialLog"] as? [[String: Any]])
        #expect(log.count == 6)
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: seenFile)) as? [[String]])
        #expect(seen == log.prefix(2).map { $0["functions"] as? [String] ?? [] } && seen.allSatisfy { $0.count == 3 })
        let same = try #require(miniEntry["afsearchOnPeerTrials"] as? [String: Any])
        #expect(same["trials"] as? Int == 2)
        #expect(same["diverged"] as? Int == log.prefix(2).filter { $0["diverged"] as? Bool == true }.count)

        let noPeer = try cli.run(["bench", "alacarte", "--datasets", data.path, "--python", cli.root.appendingPathComponent("none").path])
        #expect(noPeer.status != 0)
        #expect(noPeer.stderr.contains("setup-torch.sh"), "\(noPeer.stderr)")
    }
}
