import Kernels

/// The shape of a Cartesian GP grid (Miller's CGP): `rows × columns` function nodes, each taking up to two
/// inputs from the program inputs or from nodes at most `levelsBack` columns to its left, and one output.
///
/// The program inputs are `x` followed by the optional constants (study 2 uses `x` alone).
public struct CGPShape: Sendable, Hashable {
    public var rows: Int
    public var columns: Int
    public var levelsBack: Int
    public var primitives: PrimitiveSet
    public var constants: [Double]

    /// Study 2's grid: 5 × 5, levels-back 5, its primitives, no constants.
    public static let paper2 = CGPShape(rows: 5, columns: 5, levelsBack: 5, primitives: .paper2, constants: [])

    public init(rows: Int, columns: Int, levelsBack: Int, primitives: PrimitiveSet, constants: [Double] = []) {
        self.rows = rows
        self.columns = columns
        self.levelsBack = levelsBack
        self.primitives = primitives
        self.constants = constants
    }

    public func validate() throws {
        guard rows >= 1, columns >= 1 else {
            throw EvolutionError.invalidSetting("CGP grid must have at least 1 row and 1 column, got \(rows) × \(columns)")
        }
        guard levelsBack >= 1 else {
            throw EvolutionError.invalidSetting("CGP levels-back must be at least 1, got \(levelsBack)")
        }
        guard constants.allSatisfy(\.isFinite) else {
            throw EvolutionError.invalidSetting("CGP constants must be finite, got \(constants)")
        }
    }

    var inputCount: Int { 1 + constants.count }
    var nodeCount: Int { rows * columns }
    /// Genes per node: function, first input, second input.
    static let genesPerNode = 3
    var geneCount: Int { nodeCount * Self.genesPerNode + 1 }
    var outputGeneIndex: Int { nodeCount * Self.genesPerNode }

    /// The addresses node `node` may read: all inputs, and nodes of the `levelsBack` columns to its left.
    /// Addresses `0..<inputCount` are inputs; `inputCount + k` is node `k` (nodes are column-major).
    func connectionRange(ofNode node: Int) -> (inputs: Range<Int>, nodes: Range<Int>) {
        let column = node / rows
        let firstColumn = Swift.max(0, column - levelsBack)
        return (0..<inputCount, (inputCount + firstColumn * rows)..<(inputCount + column * rows))
    }

    /// How many distinct values gene `gene` can take.
    func alleleCount(ofGene gene: Int) -> Int {
        if gene == outputGeneIndex { return inputCount + nodeCount }
        let (node, role) = gene.quotientAndRemainder(dividingBy: Self.genesPerNode)
        if role == 0 { return primitives.functionCount }
        let range = connectionRange(ofNode: node)
        return range.inputs.count + range.nodes.count
    }

    /// Allele `k` of gene `gene` (a function index or a connection address).
    func allele(_ k: Int, ofGene gene: Int) -> Int {
        if gene == outputGeneIndex { return k }
        let (node, role) = gene.quotientAndRemainder(dividingBy: Self.genesPerNode)
        if role == 0 { return k }
        let range = connectionRange(ofNode: node)
        return k < range.inputs.count ? range.inputs.lowerBound + k : range.nodes.lowerBound + (k - range.inputs.count)
    }

    func randomAllele<R: RandomNumberGenerator>(ofGene gene: Int, using rng: inout R) -> Int {
        allele(Int.random(in: 0..<alleleCount(ofGene: gene), using: &rng), ofGene: gene)
    }

    /// A different valid value for gene `gene`; `nil` when the gene has only one possible value.
    func otherAllele<R: RandomNumberGenerator>(ofGene gene: Int, current: Int, using rng: inout R) -> Int? {
        let count = alleleCount(ofGene: gene)
        guard count > 1 else { return nil }
        while true {
            let value = allele(Int.random(in: 0..<count, using: &rng), ofGene: gene)
            if value != current { return value }
        }
    }

    func isValid(_ genes: [Int]) -> Bool {
        guard genes.count == geneCount else { return false }
        for gene in genes.indices {
            let count = alleleCount(ofGene: gene)
            guard (0..<count).contains(where: { allele($0, ofGene: gene) == genes[gene] }) else { return false }
        }
        return true
    }
}

/// A CGP genotype: for each node (column-major) its function gene and two connection genes, then the
/// output gene. Most nodes are usually inactive; they drift neutrally and may become active later,
/// which is why CGP's (1+λ) strategy lets equally fit offspring replace the parent.
public struct CGPGenome: Sendable, Hashable, Codable {
    public var genes: [Int]

    public init(genes: [Int]) { self.genes = genes }

    public static func random<R: RandomNumberGenerator>(_ shape: CGPShape, using rng: inout R) -> CGPGenome {
        CGPGenome(genes: (0..<shape.geneCount).map { shape.randomAllele(ofGene: $0, using: &rng) })
    }

    /// The active nodes (those the output depends on), ascending.
    public func activeNodes(_ shape: CGPShape) -> [Int] {
        var active = Set<Int>()
        var stack = [genes[shape.outputGeneIndex]]
        while let address = stack.popLast() {
            guard address >= shape.inputCount else { continue }
            let node = address - shape.inputCount
            guard active.insert(node).inserted else { continue }
            let base = node * CGPShape.genesPerNode
            stack.append(genes[base + 1])
            if shape.primitives.arity(ofFunction: genes[base]) == 2 { stack.append(genes[base + 2]) }
        }
        return active.sorted()
    }

    /// The genes that influence the phenotype: the output gene, and for each active node its function gene
    /// and the connection genes its function reads (a unary node's second input is not one of them).
    public func activeGenes(_ shape: CGPShape) -> [Int] {
        var result = [shape.outputGeneIndex]
        for node in activeNodes(shape) {
            let base = node * CGPShape.genesPerNode
            result.append(base)
            result.append(base + 1)
            if shape.primitives.arity(ofFunction: genes[base]) == 2 { result.append(base + 2) }
        }
        return result.sorted()
    }

    /// The expression the active part of the grid computes. Shared nodes become repeated subtrees.
    public func decode(_ shape: CGPShape) -> ActivationExpr {
        var memo: [Int: ActivationExpr] = [:]
        func value(_ address: Int) -> ActivationExpr {
            if address == 0 { return .x }
            if address < shape.inputCount { return .constant(shape.constants[address - 1]) }
            if let known = memo[address] { return known }
            let base = (address - shape.inputCount) * CGPShape.genesPerNode
            let function = genes[base]
            let first = value(genes[base + 1])
            let second = shape.primitives.arity(ofFunction: function) == 2 ? value(genes[base + 2]) : first
            let expr = shape.primitives.apply(function, first, second)
            memo[address] = expr
            return expr
        }
        return value(genes[shape.outputGeneIndex])
    }

    /// Study 2's mutation: changes exactly one active gene to a different value, so every offspring
    /// differs from its parent in its phenotype's structure.
    ///
    /// With `mutateInactive` it is Goldman and Punch's "single active" mutation instead: genes are drawn
    /// at random from the whole genome and changed until an active one has changed; the inactive genes hit
    /// on the way stay changed, which lets the inactive part of the grid drift.
    public func mutated<R: RandomNumberGenerator>(_ shape: CGPShape, mutateInactive: Bool = false, using rng: inout R) -> CGPGenome {
        var child = self
        let active = Set(activeGenes(shape))
        let mutable = active.filter { shape.alleleCount(ofGene: $0) > 1 }
        guard !mutable.isEmpty else { return child }
        if !mutateInactive {
            let gene = mutable.sorted()[Int.random(in: 0..<mutable.count, using: &rng)]
            child.genes[gene] = shape.otherAllele(ofGene: gene, current: genes[gene], using: &rng)!
            return child
        }
        while true {
            let gene = Int.random(in: 0..<shape.geneCount, using: &rng)
            guard let value = shape.otherAllele(ofGene: gene, current: child.genes[gene], using: &rng) else { continue }
            child.genes[gene] = value
            if active.contains(gene) { return child }
        }
    }
}
