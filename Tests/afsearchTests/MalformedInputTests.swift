import Foundation
import Search
import Testing

/// A corpus of malformed inputs — expressions, flags, data files, study stores, weight files, paths,
/// devices — each run through the built binary. Every one must end with the documented exit code (64: the
/// command line is wrong; 1: what it names cannot be used), one "Error: " line that names the input and
/// what was expected, no stack trace or raw framework error, nothing left behind, in under 5 s.
/// None of these builds an OpenCL program, so the corpus stays fast on a 2-core CI machine.
@Suite struct MalformedInputTests {
    struct Case: Sendable {
        var name: String
        var arguments: [String]
        var status: Int32
        /// Fragments stderr must contain (`{root}` is the run's temp folder).
        var mentions: [String]
    }

    static func c(_ name: String, _ arguments: [String], _ status: Int32, _ mentions: String...) -> Case {
        Case(name: name, arguments: arguments, status: status, mentions: mentions)
    }

    static func nested(_ open: String, _ n: Int, _ close: String = ")") -> String {
        String(repeating: open, count: n) + "x" + String(repeating: close, count: n)
    }

    static let train = ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "4", "--epochs", "1"]
    static let evolve = ["evolve", "--dataset", "{root}/tiny.csv"]
    static let alacarte = ["alacarte", "--dataset", "{root}/tiny.csv", "--trials", "2", "--population", "2"]

    static let expressionCases: [Case] = [
        c("compile empty", ["compile", ""], 64, "empty expression"),
        c("compile unclosed call", ["compile", "x*sigmoid(x"], 64, "'x*sigmoid(x'", "expected ')'", "column 12"),
        c("compile typo", ["compile", "sigmod(x)"], 64, "unknown function 'sigmod'", "did you mean 'sigmoid'"),
        c("compile unknown variable", ["compile", "y + 1"], 64, "unknown variable 'y'"),
        c("compile caret", ["compile", "x ^ 2"], 64, "'^' is not supported"),
        c("compile dollar", ["compile", "x $ 2"], 64, "unexpected character '$'"),
        c("compile max one argument", ["compile", "max(x)"], 64, "'max' takes 2 arguments, got 1"),
        c("compile tanh two arguments", ["compile", "tanh(x, x)"], 64, "'tanh' takes 1 argument, got 2"),
        c("compile sin no argument", ["compile", "sin()"], 64, "'sin' takes 1 argument, got 0"),
        c("compile softmax plus", ["compile", "softmax(x) + 1"], 64, "must be the whole expression"),
        c("compile softmax inside", ["compile", "x + softmax(x)"], 64, "'softmax'", "whole expression"),
        c("compile softmax of 2x", ["compile", "softmax(2*x)"], 64, "applies only to x"),
        c("compile log_softmax of y", ["compile", "log_softmax(y)"], 64, "applies only to x"),
        c("compile malformed number", ["compile", "1..2*x"], 64, "malformed number '1..2'"),
        c("compile nan slope", ["compile", "prelu(x; a=nan)"], 64, "parameter 'a' needs a finite initial value"),
        c("compile conflicting parameter", ["compile", "param(a=1) + param(a=2)"], 64, "parameter 'a' was given initial value 1 before, now 2"),
        c("compile param without setting", ["compile", "param()"], 64, "expected a setting"),
        c("compile prelu two settings", ["compile", "prelu(x; a=1, b=2)"], 64, "'prelu' takes one setting"),
        c("compile setting on tanh", ["compile", "tanh(x; a=1)"], 64, "'tanh' takes no settings"),
        c("compile parameter named x", ["compile", "param(x=1)"], 64, "'x' cannot name a parameter"),
        c("compile bare function", ["compile", "sin"], 64, "function 'sin' needs arguments"),
        c("compile two operands", ["compile", "x x"], 64, "expected an operator or the end of the expression, found 'x'"),
        c("compile lone parenthesis", ["compile", ")"], 64, "expected a number, x, a function call or '(', found ')'"),
        c("compile open parenthesis", ["compile", "(x"], 64, "expected ')' after a parenthesised expression"),
        c("compile extra parenthesis", ["compile", "x)"], 64, "found ')'"),
        c("compile trailing comma", ["compile", "x,"], 64, "found ','"),
        c("compile leading star", ["compile", "*x"], 64, "found '*'"),
        c("compile double operator", ["compile", "x+*x"], 64, "found '*'"),
        c("compile times sign", ["compile", "x × 2"], 64, "unexpected character '×'"),
        c("compile em dash", ["compile", "—x"], 64, "unexpected character '—'"),
        c("compile pi as function", ["compile", "pi(x)"], 64, "unknown function 'pi'"),
        c("compile bare gumbel", ["compile", "gumbel_softmax"], 64, "expected '(' after 'gumbel_softmax'"),
        c("compile 20000 parentheses", ["compile", nested("(", 20_000)], 64, "characters long; the limit is 20000"),
        c("compile 10000 nested sin", ["compile", nested("sin(", 10_000)], 64, "characters long"),
        c("compile 2000 nested sin", ["compile", nested("sin(", 2_000)], 64, "nests deeper than 100 levels", "(10001 characters)"),
        c("compile 4000-term sum", ["compile", Array(repeating: "x", count: 4_000).joined(separator: "+")], 64, "nests deeper than 100 levels"),
        c("compile 150-factor product", ["compile", Array(repeating: "x", count: 150).joined(separator: "*")], 64, "nests deeper than 100 levels"),
        c("compile nested prelu", ["compile", nested("prelu(", 12)], 64, "more than 1000 operations"),
        c("compile wide expression", ["compile", Array(repeating: "(" + Array(repeating: "sin(x)", count: 30).joined(separator: "+") + ")", count: 20).joined(separator: "*")],
          64, "more than 1000 operations"),
        c("compile unknown flag", ["compile", "x", "--sauce"], 64, "Unknown option '--sauce'"),
        c("eval not a number", ["eval", "x", "--at", "abc", "--cpu"], 64, "--at: 'abc' is not a number"),
        c("eval empty at entry", ["eval", "x", "--at", "1,,2", "--cpu"], 64, "--at: '' is not a number"),
        c("eval range two parts", ["eval", "x", "--range", "1:2", "--cpu"], 64, "--range '1:2'", "START:STOP:COUNT"),
        c("eval range zero count", ["eval", "x", "--range", "5:1:0", "--cpu"], 64, "--range '5:1:0'"),
        c("eval range letters", ["eval", "x", "--range", "a:b:c", "--cpu"], 64, "--range 'a:b:c'"),
        c("eval range too many", ["eval", "x", "--range", "0:1:100000000", "--cpu"], 64, "--range '0:1:100000000'"),
        c("eval range infinite", ["eval", "x", "--range", "-inf:1:3", "--cpu"], 64, "--range '-inf:1:3'"),
        c("eval at and range", ["eval", "x", "--at", "1", "--range", "0:1:2", "--cpu"], 64, "either --at or --range"),
        c("eval no inputs", ["eval", "x", "--cpu"], 64, "--at 0.5,-1,2 or --range -5:5:101"),
        c("eval layerwise", ["eval", "softmax(x)", "--at", "1", "--cpu"], 64, "'softmax(x)' normalises across a layer's units"),
        c("eval malformed", ["eval", "x*", "--at", "1", "--cpu"], 64, "invalid expression 'x*'"),
        c("eval negative malformed", ["eval", "-x*", "--at", "1", "--cpu"], 64, "invalid expression '-x*'"),
        c("eval empty device", ["eval", "x", "--at", "1", "--device", ""], 64, "--device is empty"),
        c("eval absent device", ["eval", "x", "--at", "1", "--device", "99"], 1, "99"),
        c("export unknown format", ["export", "x", "--to", "fortran"], 64, "'fortran'", "'pytorch', 'jax' or 'latex'"),
        c("export name digit", ["export", "x", "--name", "1abc"], 64, "--name '1abc' is not a Python identifier"),
        c("export name class", ["export", "x", "--name", "class"], 64, "--name 'class' is a Python keyword"),
        c("export name lambda", ["export", "x", "--name", "lambda"], 64, "--name 'lambda' is a Python keyword"),
        c("export name empty", ["export", "x", "--name", ""], 64, "--name '' is not a Python identifier"),
        c("export name with dash", ["export", "x", "--name", "my-act"], 64, "--name 'my-act'"),
        c("export missing run path", ["export", "runs/x"], 1, "no run folder 'runs/x'"),
        c("export malformed", ["export", "x+"], 64, "invalid expression 'x+'"),
        c("export output in missing folder", ["export", "x", "--output", "{root}/nowhere/f.py"], 1, "--output {root}/nowhere/f.py", "does not exist"),
        c("export output is a folder", ["export", "x", "--output", "{root}/afolder"], 1, "--output {root}/afolder is a folder"),
        c("export output empty", ["export", "x", "--output", ""], 64, "--output is empty"),
        c("export folder without run", ["export", "{root}/afolder"], 1, "has no evolution.json"),
        c("menu unknown", ["menu", "bogus"], 64, "unknown menu 'bogus'", "paper1"),
    ]

    static let flagCases: [Case] = [
        c("no subcommand match", ["bogus"], 64, "Unexpected argument 'bogus'"),
        c("unknown top-level option", ["--bogus"], 64, "Unknown option '--bogus'"),
        c("train without dataset", ["train", "--activations", "relu", "--layers", "4"], 64, "--dataset"),
        c("train epochs zero", train + ["--epochs", "0"], 64, "--epochs must be at least 1, got 0"),
        c("train epochs negative", train + ["--epochs", "-5"], 64, "--epochs must be at least 1, got -5"),
        c("train epochs absurd", train + ["--epochs", "100000000000"], 64, "--epochs 100000000000 is more than the limit of 1000000"),
        c("train epochs float", train + ["--epochs", "1e3"], 64, "'1e3' is invalid for '--epochs"),
        c("train epochs text", train + ["--epochs", "many"], 64, "'many' is invalid for '--epochs"),
        c("train lr negative", train + ["--lr", "-1"], 64, "--lr must be a positive number", "got -1"),
        c("train lr zero", train + ["--lr", "0"], 64, "--lr must be a positive number", "got 0"),
        c("train lr nan", train + ["--lr", "nan"], 64, "--lr must be a positive number", "got nan"),
        c("train lr inf", train + ["--lr", "inf"], 64, "--lr must be a positive number", "got inf"),
        c("train lr text", train + ["--lr", "fast"], 64, "'fast' is invalid for '--lr"),
        c("train momentum nan", train + ["--optimizer", "sgd", "--momentum", "nan"], 64, "--momentum must be in [0, 1), got nan"),
        c("train momentum negative", train + ["--optimizer", "sgd", "--momentum", "-0.5"], 64, "--momentum must be in [0, 1), got -0.5"),
        c("train momentum one", train + ["--optimizer", "sgd", "--momentum", "1"], 64, "--momentum must be in [0, 1), got 1"),
        c("train momentum with adam", train + ["--momentum", "0.9"], 64, "--momentum 0.9 applies to --optimizer sgd only"),
        c("train batch zero", train + ["--batch", "0"], 64, "--batch must be at least 1, got 0"),
        c("train batch negative", train + ["--batch", "-3"], 64, "--batch must be at least 1, got -3"),
        c("train test fraction zero", train + ["--test-fraction", "0"], 64, "--test-fraction must be in (0, 1), got 0"),
        c("train test fraction one", train + ["--test-fraction", "1"], 64, "--test-fraction must be in (0, 1), got 1"),
        c("train test fraction large", train + ["--test-fraction", "1.5"], 64, "--test-fraction must be in (0, 1), got 1.5"),
        c("train test fraction negative", train + ["--test-fraction", "-0.1"], 64, "--test-fraction must be in (0, 1), got -0.1"),
        c("train test fraction nan", train + ["--test-fraction", "nan"], 64, "--test-fraction must be in (0, 1), got nan"),
        c("train layers empty", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", ""], 64, "--layers is empty"),
        c("train layers double comma", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "4,,4"], 64, "--layers: '' is not a width"),
        c("train layers text", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "wide"], 64, "--layers: 'wide' is not a width"),
        c("train layers zero", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "0"], 64, "--layers: '0' is not a width"),
        c("train layers negative", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "-4"], 64, "--layers: '-4' is not a width"),
        c("train layers and arch", train + ["--arch", "cnn"], 64, "either --layers", "or --arch"),
        c("train unknown arch", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--arch", "bogus"], 64, "--arch 'bogus'", "unknown layer 'bogus'"),
        c("train empty device", train + ["--device", ""], 64, "--device is empty"),
        c("train empty activations", ["train", "--dataset", "{root}/tiny.csv", "--activations", "", "--layers", "4"], 64, "--activations: empty activation list"),
        c("train empty activation entry", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu,,tanh", "--layers", "4,4"], 64, "--activations: activation 2: empty entry"),
        c("train activation typo", ["train", "--dataset", "{root}/tiny.csv", "--activations", "sigmod(x)", "--layers", "4"], 64, "--activations: activation 1", "unknown function 'sigmod'"),
        c("train activation count", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu,relu,relu", "--layers", "4"], 64, "--activations: 3 activations for 1 hidden layers"),
        c("train activations and file", train + ["--population-file", "{root}/pop_bad.txt"], 64, "exactly one of --activations and --population-file"),
        c("train unknown optimizer", train + ["--optimizer", "rmsprop"], 64, "'rmsprop' is invalid for '--optimizer"),
        c("train empty save path", train + ["--save-weights", ""], 64, "--save-weights is empty"),
        c("train empty init path", train + ["--init-weights", ""], 64, "--init-weights is empty"),
        c("train unknown impute", train + ["--impute", "median"], 64, "'median' is invalid for '--impute"),
        c("train empty label", train + ["--label", ""], 64, "--label is empty"),
        c("train empty data root", train + ["--data-root", ""], 64, "--data-root is empty"),
        c("train negative seed", train + ["--seed", "-1"], 64, "'-1' is invalid for '--seed"),
        c("train unknown option", train + ["--sauce"], 64, "Unknown option '--sauce'"),
        c("train empty dataset", ["train", "--dataset", "", "--activations", "relu", "--layers", "4"], 64, "--dataset is empty"),
        c("train empty test dataset", train + ["--test-dataset", ""], 64, "--test-dataset is empty"),
        c("train lr with a test set", train + ["--test-fraction", "0", "--test-dataset", "{root}/tiny.csv", "--lr", "-2"], 64, "--lr must be a positive number"),
        c("alacarte without dataset", ["alacarte"], 64, "--dataset"),
        c("alacarte trials zero", alacarte + ["--trials", "0"], 64, "--trials must be at least 1, got 0"),
        c("alacarte trials negative", alacarte + ["--trials", "-5"], 64, "--trials must be at least 1, got -5"),
        c("alacarte trials absurd", alacarte + ["--trials", "1000000000000"], 64, "--trials 1000000000000 is more than the limit"),
        c("alacarte population negative", alacarte + ["--population", "-1"], 64, "--population must be at least 1, got -1"),
        c("alacarte population zero", alacarte + ["--population", "0"], 64, "--population must be at least 1, got 0"),
        c("alacarte layers zero", alacarte + ["--layers", "0"], 64, "--depth must be at least 1, got 0"),
        c("alacarte depth negative", alacarte + ["--depth", "-2"], 64, "--depth must be at least 1, got -2"),
        c("alacarte layers absurd", alacarte + ["--depth", "5000"], 64, "--depth 5000 is more than the limit of 1000"),
        c("alacarte unknown sampler", alacarte + ["--sampler", "grid"], 64, "'grid' is invalid for '--sampler"),
        c("alacarte unknown objective", alacarte + ["--objective", "test"], 64, "'test' is invalid for '--objective"),
        c("alacarte epochs zero", alacarte + ["--epochs", "0"], 64, "--epochs must be at least 1, got 0"),
        c("alacarte lr negative", alacarte + ["--lr", "-1"], 64, "--lr must be a positive number", "got -1"),
        c("alacarte patience negative", alacarte + ["--patience", "-1"], 64, "--patience must be at least 0, got -1"),
        c("alacarte test fraction one", alacarte + ["--test-fraction", "1"], 64, "--test-fraction must be in (0, 1), got 1"),
        c("alacarte validation fraction one", alacarte + ["--validation-fraction", "1"], 64, "--validation-fraction must be in [0, 1), got 1"),
        c("alacarte validation objective without rows", alacarte + ["--validation-fraction", "0"], 64, "--objective validation needs --validation-fraction > 0"),
        c("alacarte unknown trainer", alacarte + ["--trainer", "gpu"], 64, "'gpu'", "--trainer", "'opencl' and 'reference'"),
        c("alacarte empty menu", alacarte + ["--menu", ""], 64, "--menu is empty"),
        c("alacarte menu typo", alacarte + ["--menu", "sigmod"], 64, "--menu: 'sigmod'"),
        c("alacarte menu duplicate", alacarte + ["--menu", "relu,relu"], 64, "--menu lists an entry twice"),
        c("alacarte bad study name", alacarte + ["--study", "../x"], 64, "--study: study name '../x' is not valid"),
        c("alacarte empty device", alacarte + ["--device", ""], 64, "--device is empty"),
        c("alacarte unknown impute", alacarte + ["--impute", "zero"], 64, "'zero' is invalid for '--impute"),
        c("experiment alacarte empty datasets", ["experiment", "alacarte", "--datasets", ""], 64, "--datasets is empty"),
        c("experiment alacarte depth one", ["experiment", "alacarte", "--layers", "1"], 64, "--depth must be comma-separated depths of at least 2", "'1'"),
        c("experiment alacarte depth text", ["experiment", "alacarte", "--depth", "deep"], 64, "'deep'"),
        c("evolve unknown activation code", evolve + ["--activation-code", "jit"], 64, "'jit' is invalid for '--activation-code"),
        c("experiment alacarte replicates zero", ["experiment", "alacarte", "--replicates", "0"], 64, "--replicates must be at least 1, got 0"),
        c("experiment alacarte unknown suite", ["experiment", "alacarte", "--suite", "nosuch"], 64, "--suite", "'nosuch'"),
        c("experiment alacarte sqlite storage", ["experiment", "alacarte", "--storage", "sqlite:/tmp/x.sqlite"], 64, "--storage", "a sqlite: file holds one"),
        c("experiment evolution sqlite storage", ["experiment", "evolution", "--storage", "sqlite:/tmp/x.sqlite"], 64, "--storage", "postgresql://"),
        c("experiment alacarte suite limit negative", ["experiment", "alacarte", "--suite-limit", "-1"], 64, "--suite-limit must be at least 0, got -1"),
        c("experiment alacarte bad name", ["experiment", "alacarte", "--study", "../x"], 64, "--study: study name '../x' is not valid"),
        c("experiment alacarte old name spelling", ["experiment", "alacarte", "--name", "a/b"], 64, "study name 'a/b' is not valid"),
        c("experiment alacarte trials zero", ["experiment", "alacarte", "--trials", "0"], 64, "--trials must be at least 1, got 0"),
        c("experiment evolution replicates zero", ["experiment", "evolution", "--replicates", "0"], 64, "--replicates must be at least 1, got 0"),
        c("experiment evolution generations zero", ["experiment", "evolution", "--generations", "0"], 64, "--generations must be at least 1, got 0"),
        c("experiment evolution population negative", ["experiment", "evolution", "--population", "-1"], 64, "--population must be at least 1, got -1"),
        c("experiment evolution lr nan", ["experiment", "evolution", "--lr", "nan"], 64, "--lr must be a positive number", "got nan"),
        c("experiment evolution empty device", ["experiment", "evolution", "--device", ""], 64, "--device is empty"),
        c("experiment evolution unknown method", ["experiment", "evolution", "--methods", "bogus"], 64, "'bogus'", "--methods", "coevo"),
        c("experiment evolution bad name", ["experiment", "evolution", "--study", "../x"], 64, "--study: study name '../x' is not valid"),
        c("experiment evolution rounds zero", ["experiment", "evolution", "--rounds", "0"], 64, "--rounds must be at least 1, got 0"),
        c("experiment evolution empty datasets", ["experiment", "evolution", "--datasets", ","], 64, "--datasets is empty"),
        c("evolve unknown method", evolve + ["--method", "bogus"], 64, "'bogus'", "--method", "coevo"),
        c("evolve unknown representation", evolve + ["--representation", "graph"], 64, "'graph'", "--representation", "'cgp' and 'tree'"),
        c("evolve unknown algorithm", evolve + ["--algorithm", "pso"], 64, "'pso'", "--algorithm", "'es' and 'ga'"),
        c("evolve generations zero", evolve + ["--generations", "0"], 64, "--generations must be at least 1, got 0"),
        c("evolve generations negative", evolve + ["--generations", "-1"], 64, "--generations must be at least 1, got -1"),
        c("evolve population zero", evolve + ["--population", "0"], 64, "--population must be at least 1, got 0"),
        c("evolve epochs zero", evolve + ["--epochs", "0"], 64, "--epochs must be at least 1, got 0"),
        c("evolve lr negative", evolve + ["--lr", "-1"], 64, "--lr must be a positive number", "got -1"),
        c("evolve lr nan", evolve + ["--lr", "nan"], 64, "--lr must be a positive number", "got nan"),
        c("evolve empty device", evolve + ["--device", ""], 64, "--device is empty"),
        c("evolve bad study name", evolve + ["--study", "../x"], 64, "--study: study name '../x' is not valid"),
        c("evolve unknown arch", evolve + ["--arch", "bogus"], 64, "--arch 'bogus'"),
        c("evolve arch with one slot", evolve + ["--arch", "conv3x3:8,pool2,flatten,fc:10"], 64, "has 1 activation slot(s); evolution needs exactly 3"),
        c("evolve batch fraction", evolve + ["--batch-fraction", "2"], 64, "--batch-fraction must lie in (0, 1], got 2"),
        c("evolve train rows", evolve + ["--train-rows", "5"], 64, "--train-rows must be at least 10, got 5"),
        c("evolve grid rows", evolve + ["--rows", "0"], 64, "CGP grid must have at least 1 row"),
        c("evolve unknown primitive", evolve + ["--primitives", "bogus"], 64, "unknown primitive 'bogus'"),
        c("evolve unknown standard", evolve + ["--standard", "foo"], 64, "standard activation 'foo'"),
        c("bench train population zero", ["bench", "train", "--population", "0"], 64, "--population must be at least 1, got 0"),
        c("bench train bad tile", ["bench", "train", "--tile", "bogus"], 64, "--tile", "'bogus'"),
        c("bench train empty device", ["bench", "train", "--device", ""], 64, "--device is empty"),
        c("bench gemm repetitions zero", ["bench", "gemm", "--repetitions", "0"], 64, "--repetitions must be at least 1, got 0"),
        c("selftest count zero", ["selftest", "--count", "0"], 64, "--count must be at least 1, got 0"),
        c("selftest empty device", ["selftest", "--device", ""], 64, "--device is empty"),
        c("devices unknown option", ["devices", "--bogus"], 64, "Unknown option '--bogus'"),
        c("show top zero", ["show", "x", "--top", "0"], 64, "--top must be at least 1, got 0"),
        c("show bad name", ["show", "../x"], 64, "study name '../x' is not valid"),
        c("datasets unknown suite", ["datasets", "--suite", "bogus"], 64, "--suite 'bogus' is not a suite", "paper1"),
        c("datasets unknown impute", ["datasets", "--impute", "median"], 64, "'median' is invalid for '--impute"),
        c("report empty output", ["report", "x", "--output", ""], 64, "--output is empty"),
    ]

    static let worldCases: [Case] = [
        c("train missing file", ["train", "--dataset", "{root}/nosuch.csv", "--activations", "relu", "--layers", "4"], 1, "unknown dataset '{root}/nosuch.csv'"),
        c("train absent registry dataset", ["train", "--dataset", "keel/wine", "--activations", "relu", "--layers", "4"], 1, "keel/wine", "make data"),
        c("train one-column csv", ["train", "--dataset", "{root}/one.csv", "--activations", "relu", "--layers", "4"], 1, "'one.csv' has no feature columns"),
        c("train binary file", ["train", "--dataset", "{root}/binary.csv", "--activations", "relu", "--layers", "4"], 1, "cannot read {root}/binary.csv: it holds binary data"),
        c("train empty file", ["train", "--dataset", "{root}/empty.csv", "--activations", "relu", "--layers", "4"], 1, "empty.csv"),
        c("train header only", ["train", "--dataset", "{root}/header.csv", "--activations", "relu", "--layers", "4"], 1, "header.csv"),
        c("train missing value", ["train", "--dataset", "{root}/missing.csv", "--activations", "relu", "--layers", "4"], 1, "missing.csv", "--impute mean"),
        c("train ragged rows", ["train", "--dataset", "{root}/ragged.csv", "--activations", "relu", "--layers", "4"], 1, "ragged.csv"),
        c("train one class", ["train", "--dataset", "{root}/oneclass.csv", "--activations", "relu", "--layers", "4"], 1, "oneclass.csv", "only one class ('p')"),
        c("train malformed arff", ["train", "--dataset", "{root}/bad.arff", "--activations", "relu", "--layers", "4"], 1, "bad.arff"),
        c("train malformed keel", ["train", "--dataset", "{root}/bad.dat", "--activations", "relu", "--layers", "4"], 1, "bad.dat"),
        c("train folder as dataset", ["train", "--dataset", "{root}/afolder", "--activations", "relu", "--layers", "4"], 1, "'{root}/afolder'"),
        c("train truncated idx", ["train", "--dataset", "{root}/t-images-idx3-ubyte", "--activations", "relu", "--layers", "4"], 1, "t-images-idx3-ubyte"),
        c("train two rows", ["train", "--dataset", "{root}/tworows.csv", "--activations", "relu", "--layers", "4"], 1, "--test-fraction 0.3 splits the 2 rows", "at least 2 training rows"),
        c("train large test fraction", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "4", "--test-fraction", "0.99"], 1, "--test-fraction 0.99 splits the 20 rows"),
        c("train test set other columns", train + ["--test-dataset", "{root}/three.csv"], 1, "--test-dataset 'three.csv' has 3 features but 'tiny.csv' has 2"),
        c("train test set other class", train + ["--test-dataset", "{root}/otherclass.csv"], 1, "--test-dataset 'otherclass.csv' has class 'c'"),
        c("train test set missing", train + ["--test-dataset", "{root}/nosuch.csv"], 1, "unknown dataset '{root}/nosuch.csv'"),
        c("train zero fraction without test set", ["train", "--dataset", "{root}/tiny.csv", "--activations", "relu", "--layers", "4", "--test-fraction", "0"], 64, "--test-fraction must be in (0, 1), got 0"),
        c("train population file missing", ["train", "--dataset", "{root}/tiny.csv", "--population-file", "{root}/nosuch.txt", "--layers", "4"], 1, "--population-file cannot read {root}/nosuch.txt"),
        c("train population file folder", ["train", "--dataset", "{root}/tiny.csv", "--population-file", "{root}/afolder", "--layers", "4"], 1, "--population-file", "{root}/afolder"),
        c("train population file typo", ["train", "--dataset", "{root}/tiny.csv", "--population-file", "{root}/pop_bad.txt", "--layers", "4"], 1, "pop_bad.txt:2", "unknown function 'sigmod'"),
        c("train population file empty", ["train", "--dataset", "{root}/tiny.csv", "--population-file", "{root}/empty.csv", "--layers", "4"], 1, "empty.csv"),
        c("train init weights missing", train + ["--init-weights", "{root}/nosuch.safetensors"], 1, "safetensors file {root}/nosuch.safetensors: no such file"),
        c("train init weights garbage", train + ["--init-weights", "{root}/garbage.safetensors"], 1,
          "Error: safetensors file {root}/garbage.safetensors: file is truncated: 5 bytes, need at least 8 for the header length"),
        c("train init weights empty", train + ["--init-weights", "{root}/empty.safetensors"], 1, "empty.safetensors", "0 bytes"),
        c("train init weights bad header", train + ["--init-weights", "{root}/badjson.safetensors"], 1, "badjson.safetensors", "not valid JSON"),
        c("train init weights folder", train + ["--init-weights", "{root}/afolder"], 1, "{root}/afolder: is a folder"),
        c("train save weights missing folder", train + ["--save-weights", "{root}/nowhere/w.safetensors"], 1, "--save-weights {root}/nowhere/w.safetensors", "does not exist"),
        c("train save weights device", train + ["--save-weights", "/dev/null"], 1, "--save-weights /dev/null is not a regular file"),
        c("train save weights folder", train + ["--save-weights", "{root}/afolder"], 1, "--save-weights {root}/afolder is a folder"),
        c("train absent device index", train + ["--device", "99"], 1, "99"),
        c("train absent device name", train + ["--device", "nosuchgpu"], 1, "nosuchgpu"),
        c("alacarte missing dataset", ["alacarte", "--dataset", "bogus"], 1, "unknown dataset 'bogus'"),
        c("alacarte one-column csv", ["alacarte", "--dataset", "{root}/one.csv"], 1, "'one.csv' has no feature columns"),
        c("alacarte absent device", alacarte + ["--device", "99"], 1, "99"),
        c("alacarte resume nothing", alacarte + ["--resume", "--study", "nosuch"], 1, "nothing to resume: no study 'nosuch'"),
        c("alacarte empty validation part", ["alacarte", "--dataset", "{root}/tworows.csv", "--trainer", "reference"], 1, "split the 2 rows"),
        c("experiment alacarte missing dataset", ["experiment", "alacarte", "--datasets", "bogus"], 1, "unknown dataset 'bogus'"),
        c("experiment alacarte one-column csv", ["experiment", "alacarte", "--datasets", "{root}/one.csv"], 1, "'one.csv' has no feature columns"),
        c("experiment evolution missing dataset", ["experiment", "evolution", "--datasets", "bogus"], 1, "unknown dataset 'bogus'"),
        c("experiment evolution absent device", ["experiment", "evolution", "--device", "99"], 1, "99"),
        c("evolve missing dataset", ["evolve", "--dataset", "bogus"], 1, "unknown dataset 'bogus'"),
        c("evolve cnn on a table", ["evolve", "--arch", "cnn", "--dataset", "{root}/tiny.csv"], 1,
          "--arch cnn needs an image dataset", "'tiny.csv' is tabular (2 features)"),
        c("experiment evolution cnn on a table", ["experiment", "evolution", "--arch", "conv3x3:4,pool2,conv3x3:4,flatten,fc:8,fc:2",
                                                  "--datasets", "{root}/tiny.csv", "--quiet"], 1, "needs an image dataset", "'tiny.csv' is tabular"),
        c("evolve one-column csv", ["evolve", "--dataset", "{root}/one.csv"], 1, "one.csv"),
        c("evolve absent device", evolve + ["--device", "99"], 1, "99"),
        c("evolve resume nothing", evolve + ["--resume", "--study", "nosuch"], 1, "--resume: no study 'nosuch'"),
        c("evolve resume nothing in another runs folder", evolve + ["--runs", "{root}/afolder", "--resume", "--study", "nosuch"], 1,
          "--resume: no study 'nosuch' under {root}/afolder"),
        c("report in another runs folder", ["report", "nosuch", "--runs", "{root}/afolder"], 1, "no study 'nosuch' under {root}/afolder"),
        c("evolve absent registry dataset", ["evolve", "--dataset", "fashion-mnist"], 1, "fashion-mnist", "make data"),
        c("show missing study", ["show", "nosuch"], 1, "no study 'nosuch'"),
        c("show corrupt store", ["show", "corrupt"], 1, "cannot open study database", "corrupt/study.sqlite"),
        c("show empty store file", ["show", "emptydb"], 1, "emptydb/study.sqlite", "not an afsearch study database"),
        c("report missing study", ["report", "nosuch"], 1, "no study 'nosuch'"),
        c("report missing path", ["report", "runs/x"], 1, "no run folder 'runs/x'"),
        c("report a file", ["report", "{root}/tiny.csv"], 1, "'{root}/tiny.csv' is a file"),
        c("report empty folder", ["report", "{root}/afolder"], 1, "holds neither evolution.json"),
        c("report output device", ["report", "{root}/afolder", "--output", "/dev/null"], 1, "--output /dev/null is not a regular file"),
        c("report output missing folder", ["report", "{root}/afolder", "--output", "{root}/nowhere/r.html"], 1, "--output {root}/nowhere/r.html", "does not exist"),
        c("export corrupt study", ["export", "corrupt"], 1, "cannot open study database", "corrupt/study.sqlite"),
        c("export empty study file", ["export", "emptydb"], 1, "emptydb/study.sqlite", "not an afsearch study database"),
        c("report run with garbage json", ["report", "badjson"], 1, "badjson/evolution.json: not valid JSON"),
        c("export run with garbage json", ["export", "badjson"], 1, "badjson/evolution.json: not valid JSON"),
        c("report run with incomplete json", ["report", "partjson"], 1, "partjson/evolution.json: the field 'settings' is missing"),
        c("report experiment with garbage json", ["report", "badexp"], 1, "badexp/experiment-evolution.json: not valid JSON"),
        c("evolve with unreadable recipe", ["evolve", "--dataset", "{root}/tiny.csv", "--study", "badrecipe"], 1,
          "study folder {root}/runs/badrecipe was run with another data recipe: its recipe.json cannot be read"),
        c("evolve with another recipe", ["evolve", "--dataset", "{root}/tiny.csv", "--study", "otherrecipe"], 1,
          "was run with another data recipe: epochs 7 (stored) vs 3 (now)"),
        c("datasets missing", ["datasets", "nosuch"], 1, "unknown dataset 'nosuch'"),
        c("datasets unknown label name", ["datasets", "{root}/tiny.csv", "--label", "nosuch"], 1, "no label column 'nosuch'", "a, b, label"),
        c("datasets label index out of range", ["datasets", "{root}/tiny.csv", "--label", "9"], 1, "no label column '9'"),
        c("train unknown label", train + ["--label", "nosuch"], 1, "tiny.csv: no label column 'nosuch'"),
        c("train data root without the dataset", ["train", "--dataset", "keel/wine", "--data-root", "{root}/afolder", "--activations", "relu", "--layers", "4"], 1,
          "dataset 'keel/wine' is not present: missing {root}/afolder/keel/wine.dat"),
        c("alacarte unknown label", alacarte + ["--label", "nosuch"], 1, "no label column 'nosuch'"),
        c("evolve unknown label", evolve + ["--label", "nosuch"], 1, "no label column 'nosuch'"),
        c("datasets binary", ["datasets", "{root}/binary.csv"], 1, "{root}/binary.csv: it holds binary data"),
        c("datasets folder", ["datasets", "{root}/afolder"], 1, "'{root}/afolder'"),
        c("datasets absent", ["datasets", "sklearn/digits"], 1, "sklearn/digits", "make data"),
        c("selftest absent device", ["selftest", "--device", "99"], 1, "99"),
    ]

    static let cases: [Case] = expressionCases + flagCases + worldCases
    static let byName: [String: Case] = Dictionary(cases.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    @Test func corpusHasAtLeast150DistinctCases() {
        #expect(Self.cases.count >= 150)
        #expect(Self.byName.count == Self.cases.count, "case names must be unique")
    }

    /// The fixtures every case may name, written into the run's temp folder.
    static func writeFixtures(_ root: URL) throws {
        func write(_ name: String, _ text: String) throws {
            try Data(text.utf8).write(to: root.appendingPathComponent(name))
        }
        var tiny = "a,b,label\n"
        for i in 0..<20 { tiny += "\(i),\(i % 3),\(i % 2 == 0 ? "p" : "q")\n" }
        try write("tiny.csv", tiny)
        var three = "a,b,c,label\n"
        for i in 0..<10 { three += "\(i),\(i % 4),\(i % 3),\(i % 2 == 0 ? "p" : "q")\n" }
        try write("three.csv", three)
        var other = "a,b,label\n"
        for i in 0..<10 { other += "\(i),\(i % 4),\(["p", "q", "c"][i % 3])\n" }
        try write("otherclass.csv", other)
        try write("one.csv", "label\np\nq\np\nq\n")
        try write("empty.csv", "")
        try write("header.csv", "a,b,label\n")
        try write("missing.csv", "a,b,label\n1,2,p\n?,3,q\n4,5,p\n6,7,q\n")
        try write("ragged.csv", "a,b,label\n1,2,p\n3,q\n4,5,p,9\n")
        try write("oneclass.csv", "a,b,label\n1,2,p\n3,4,p\n5,6,p\n")
        try write("tworows.csv", "a,b,label\n1,2,p\n3,4,q\n")
        try write("bad.arff", "@relation r\n@attribute a numeric\n@attribute class {p,q}\n@data\n1,p\nnot-a-number,q\n")
        try write("bad.dat", "@relation r\n@attribute a real [0, 1]\n@inputs a\n@outputs class\n@data\n")
        try write("pop_bad.txt", "relu\nsigmod(x)\n")
        try write("garbage.safetensors", "hello")
        try write("empty.safetensors", "")
        var header = Data([10, 0, 0, 0, 0, 0, 0, 0])
        header.append(Data("not json!!".utf8))
        try header.write(to: root.appendingPathComponent("badjson.safetensors"))
        var binary = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) })
        binary[0] = 0
        try binary.write(to: root.appendingPathComponent("binary.csv"))
        try Data([0, 0, 8, 3, 0, 0, 0, 9]).write(to: root.appendingPathComponent("t-images-idx3-ubyte"))
        try Data([0, 0, 8, 1, 0, 0, 0, 9]).write(to: root.appendingPathComponent("t-labels-idx1-ubyte"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("afolder"), withIntermediateDirectories: true)
        let runs = root.appendingPathComponent("runs")
        for study in ["corrupt", "emptydb"] {
            try FileManager.default.createDirectory(at: runs.appendingPathComponent(study), withIntermediateDirectories: true)
        }
        try Data(repeating: 0x5A, count: 4096).write(to: runs.appendingPathComponent("corrupt/study.sqlite"))
        for (folder, file, text) in [("badjson", "evolution.json", "garbage"), ("partjson", "evolution.json", #"{"x": 1}"#),
                                     ("badexp", "experiment-evolution.json", "{"), ("badrecipe", "recipe.json", "x")] {
            try FileManager.default.createDirectory(at: runs.appendingPathComponent(folder), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: runs.appendingPathComponent("\(folder)/\(file)"))
        }
        // The recipe `evolve --dataset tiny.csv` makes, but with 7 fitness epochs.
        let recipe = Study2Recipe(dataset: root.appendingPathComponent("tiny.csv").path, epochs: 7, finalEpochs: 10,
                                  train1Rows: 4000, train2Rows: 1000, testRows: 2000)
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("otherrecipe"), withIntermediateDirectories: true)
        try JSONEncoder().encode(recipe).write(to: runs.appendingPathComponent("otherrecipe/recipe.json"))
        try Data().write(to: runs.appendingPathComponent("emptydb/study.sqlite"))
    }

    /// Every path under `root` (but the program cache and the captured output), with its size.
    static func snapshot(_ root: URL) -> [String: Int] {
        var out: [String: Int] = [:]
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root.path) else { return out }
        while let path = walker.nextObject() as? String {
            if path == "cache" || path.hasPrefix("cache/") || path.hasPrefix("stdout-") || path.hasPrefix("stderr-") { continue }
            let size = (try? fm.attributesOfItem(atPath: root.appendingPathComponent(path).path)[.size] as? Int) ?? -1
            out[path] = size
        }
        return out
    }

    @Test(arguments: cases.map(\.name))
    func malformedInputFailsCleanly(_ name: String) throws {
        let entry = try #require(Self.byName[name])
        let cli = try CLI()
        try Self.writeFixtures(cli.root)
        let before = Self.snapshot(cli.root)
        let root = cli.root.path
        let arguments = entry.arguments.map { $0.replacingOccurrences(of: "{root}", with: root) }
        let started = Date()
        let result = try cli.run(arguments, timeout: 30)
        let seconds = Date().timeIntervalSince(started)

        #expect(result.status == entry.status, "\(name): exit \(result.status), expected \(entry.status); stderr: \(result.stderr.prefix(600))")
        #expect(result.stderr.hasPrefix("Error: "), "\(name): stderr does not start with 'Error: ': \(result.stderr.prefix(600))")
        for fragment in entry.mentions {
            let expected = fragment.replacingOccurrences(of: "{root}", with: root)
            #expect(result.stderr.contains(expected), "\(name): stderr lacks '\(expected)': \(result.stderr.prefix(600))")
        }
        for raw in ["NSCocoaErrorDomain", "Fatal error", "Stack dump", "Current stack trace", "error 5.)", "(GPUEngine.",
                    "couldn’t be completed", "couldn't be completed", "CommandError(", "Swift.DecodingError"] {
            #expect(!result.stderr.contains(raw), "\(name): raw error text '\(raw)' in: \(result.stderr.prefix(600))")
        }
        #expect(result.stderr.components(separatedBy: "safetensors: ").count <= 2, "\(name): 'safetensors' repeated: \(result.stderr.prefix(600))")
        #expect(result.stderr.count < 4_000, "\(name): \(result.stderr.count) characters of error output")
        #expect(Self.snapshot(cli.root) == before, "\(name): left something behind: \(Set(Self.snapshot(cli.root).keys).symmetricDifference(before.keys).sorted())")
        #expect(seconds < 5, "\(name): took \(seconds) s")
    }
}
