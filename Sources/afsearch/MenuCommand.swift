import ArgumentParser
import Foundation
import Kernels

/// `afsearch menu [paper1|paper2|default]`: the functions a search chooses from, with formulas.
struct MenuCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "menu",
        abstract: "List a function menu with each function's formula."
    )

    @Argument(help: "paper1 (study 1's 48 functions), paper2 (study 2's CGP primitives) or default (tree GP).")
    var menu: String = "paper1"

    @Flag(name: .long, help: "Print the menu as JSON.")
    var json = false

    struct Row: Encodable {
        var name: String
        var arity: Int
        var expression: String
        var formula: String
        var layerwise: Bool
        var parameters: [String]
    }

    func run() async throws {
        let menu: Menu
        do {
            menu = try Menu.named(self.menu)
        } catch {
            throw ValidationError("\(error)")
        }
        let rows = menu.entries.map {
            Row(name: $0.name, arity: $0.arity, expression: $0.expression.description, formula: $0.formula,
                layerwise: $0.isLayerwise, parameters: $0.expression.parameters.map(\.name))
        }
        if json {
            try JSONOutput.print(rows)
            return
        }
        let nameWidth = max(4, rows.map(\.name.count).max() ?? 0)
        let exprWidth = max(10, rows.map(\.expression.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        print("\(pad("name", nameWidth))  arity  \(pad("expression", exprWidth))  formula")
        for r in rows {
            // A layer-wise formula usually says so itself; the note is only for one that does not.
            let note = r.layerwise && !r.formula.contains("across the layer") ? " [across the layer]" : ""
            print("\(pad(r.name, nameWidth))  \(pad(String(r.arity), 5))  \(pad(r.expression, exprWidth))  \(r.formula)\(note)")
        }
        print("\(rows.count) entries in menu \(menu.name)")
    }
}
