import Foundation
import Testing
@testable import Kernels

/// 1,000 random `default`-menu expressions compiled into ONE program and run on the OpenCL device.
@Suite struct RandomDeviceTests {
    static let exprs = RandomExpressions.make(1000, seed: 11)
    static let grid = try! DeviceGrid(exprs, options: "-cl-opt-disable")
    static let points: [Float] = [-9.7, -5, -3, -2.5, -1, -0.5, -0.3, 0, 1e-3, 0.3, 0.5, 1, 2.2, 3, 6, 8.8, 25]
    static let result = try! grid.evaluate(at: points)

    /// The float32-rounded reference at x and at x one float step either side: nil when those disagree
    /// beyond float noise (ill-conditioned or discontinuous at x), so no tolerance could be fair there.
    static func wellConditionedReference(_ e: ActivationExpr, _ x: Float) -> Double? {
        let v = RandomExpressions.evaluateFloat32(e, Double(x))
        let up = RandomExpressions.evaluateFloat32(e, Double(x.nextUp)), down = RandomExpressions.evaluateFloat32(e, Double(x.nextDown))
        if v.isNaN { return up.isNaN && down.isNaN ? v : nil }
        if v.isInfinite { return up == v && down == v ? v : nil }
        guard up.isFinite, down.isFinite else { return nil }
        let spread = max(abs(up - v), abs(down - v))
        return spread <= 1e-6 * max(1, abs(v)) ? v : nil
    }

    @Test func deviceValuesEqualTheSwiftReference() {
        var compared = 0, nonFinite = 0
        for (i, e) in Self.exprs.enumerated() {
            for (j, x) in Self.points.enumerated() {
                guard let ref = Self.wellConditionedReference(e, x) else { continue }
                compared += 1
                if !ref.isFinite { nonFinite += 1 }
                let dev = Double(Self.result.value[i][j])
                #expect(close(dev, ref, tolerance: 1e-5), "\(e) at \(x): device \(dev), Swift \(ref)")
            }
        }
        #expect(compared > 14_000)
        print("random-expression program: \(Self.exprs.count) expressions, built in \(Self.grid.buildSeconds) s")
        #expect(nonFinite > 0)
    }

    @Test func deviceDerivativesMatchCentralDifferencesWhereSmooth() {
        var compared = 0
        for (i, e) in Self.exprs.enumerated() {
            for (j, x) in Self.points.enumerated() {
                guard Self.wellConditionedReference(e, x) != nil,
                      let fd = smoothCentralDifference(e, Double(x)), abs(fd) < 1e4 else { continue }
                compared += 1
                let dev = Double(Self.result.slope[i][j])
                #expect(close(dev, fd, tolerance: 1e-3), "\(e)'(\(x)): device \(dev), differences \(fd)")
            }
        }
        #expect(compared > 8_000)
    }

    /// The generated forward-mode code and the symbolic derivative are independent implementations of the
    /// same conventions; they must agree at kinks and ties too.
    @Test func deviceDerivativesEqualTheSymbolicDerivative() {
        var compared = 0
        for (i, e) in Self.exprs.enumerated() {
            let d = e.derivative()
            for (j, x) in Self.points.enumerated() {
                guard let ref = Self.wellConditionedReference(d, x), intermediatesAreFinite(e, Double(x)) else { continue }
                compared += 1
                let dev = Double(Self.result.slope[i][j])
                #expect(close(dev, ref, tolerance: 1e-4), "\(e)'(\(x)): device \(dev), symbolic \(ref) via \(d)")
            }
        }
        #expect(compared > 10_000)
    }
}

/// Training-mode RReLU, parameters and the generator's contract, on a small shared program.
@Suite struct CodegenContractTests {
    static let exprs: [ActivationExpr] = [
        .unary(.rrelu, .x),
        try! .parse("rrelu(x) + rrelu(x)"),
        try! .parse("param(k=1.5) * tanh(x) + prelu(x; a=0.25)"),
        try! .parse("x * sigmoid(x)"),
    ]
    static let grid = try! DeviceGrid(exprs)

    @Test func trainingKeysDrawRReLUSlopesInRangeThatForwardAndBackwardShare() throws {
        let xs: [Float] = [-2, -0.5, 0, 1.5]
        var slopes: [Float] = []
        for key in UInt32(1)...UInt32(200) {
            let r = try Self.grid.evaluate(at: xs, key: key)
            let s = ActivationCodegen.rreluSlope(key: key, node: 0)
            #expect(s >= 0.125 && s < 1.0 / 3.0)
            slopes.append(s)
            // Within an ulp: the device may contract the slope's multiply-add into an FMA.
            #expect(abs(r.value[0][0] + 2 * s) <= 2 * s.ulp)
            #expect(abs(r.slope[0][0] - s) <= s.ulp && r.slope[0][2] == r.slope[0][0] && r.slope[0][3] == 1)
            #expect(r.value[0][3] == 1.5)
            // Two RReLU nodes draw independent slopes (nodes 0 and 1).
            let s1 = ActivationCodegen.rreluSlope(key: key, node: 1)
            #expect(abs(Double(r.value[1][0]) - Double(-2 * s - 2 * s1)) < 1e-6)
            #expect(s1 != s)
        }
        let mean = slopes.reduce(0, +) / Float(slopes.count)
        #expect(abs(mean - Float(ActivationConstants.rreluMeanSlope)) < 0.02)
        #expect(Set(slopes).count > 190)
        let eval = try Self.grid.evaluate(at: xs, key: 0)
        #expect(eval.value[0][0] == -2 * Float(ActivationConstants.rreluMeanSlope))
    }

    @Test func parametersAreReadFromTheSlotsBlockInDeclarationOrder() throws {
        let xs: [Float] = [-2, -0.5, 0.7, 3]
        let values: [[Float]] = [[], [], [0.8, 0.1], []]
        let r = try Self.grid.evaluate(at: xs, parameters: values)
        let dk = try Self.grid.parameterSlope(0, at: xs, parameters: values)
        let da = try Self.grid.parameterSlope(1, at: xs, parameters: values)
        let e = Self.exprs[2]
        let bound = ["k": 0.8, "a": 0.1]
        #expect(e.parameters.map(\.name) == ["k", "a"])
        #expect(ActivationCodegen.parameterCounts(for: Self.exprs) == [0, 0, 2, 0])
        for (j, x) in xs.enumerated() {
            let xd = Double(x)
            #expect(close(Double(r.value[2][j]), e.evaluate(xd, parameters: [0.8, 0.1])))
            #expect(close(Double(dk[2][j]), e.derivative(parameter: "k").evaluate(xd, bindings: bound)))
            #expect(close(Double(da[2][j]), e.derivative(parameter: "a").evaluate(xd, bindings: bound)))
            #expect(dk[3][j] == 0)
        }
    }

    @Test func vectorFormsAgreeWithScalarForms() throws {
        let vector = try DeviceGrid(Self.exprs, options: "-DAF_VECTOR_FUNCTIONS")
        let xs: [Float] = [-3, -1, -0.25, 0, 0.5, 1, 2, 7]
        for key: UInt32 in [0, 12345] {
            let scalar = try Self.grid.evaluate(at: xs, key: key), lanes = try vector.evaluateVector4(at: xs, key: key)
            #expect(lanes.value == scalar.value)
            #expect(lanes.slope == scalar.slope)
        }
        #expect(ActivationCodegen.source(for: Self.exprs).contains("#ifdef AF_VECTOR_FUNCTIONS"))
    }

    @Test func layerwiseExpressionsAreRefused() {
        #expect(throws: ActivationCodegen.CodegenError.self) {
            _ = try ActivationCodegen.checkedSource(for: [.x, .layerwise(.softmax)])
        }
        let source = ActivationCodegen.source(for: Self.exprs)
        #expect(source.contains("float af_act(int id, float x, __global const float* prm, uint key)"))
        #expect(source.contains("float af_dparam(int id, int k, float x, __global const float* prm, uint key)"))
        #expect(!source.contains("static"))
    }
}
