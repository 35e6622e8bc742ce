import ArgumentParser
import Foundation
import GPUEngine

/// `--device` for any subcommand that runs on a device: `@OptionGroup var deviceOptions: DeviceSelectionOptions`.
struct DeviceSelectionOptions: ParsableArguments {
    @Option(name: .long, help: "Device index or name substring, as `afsearch devices` lists them (default: $AFSEARCH_DEVICE, else the first GPU, else the first CPU).")
    var device: String?

    /// A `--device` value must name something: an empty one is an error, not the default.
    func validate() throws {
        if let device, device.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--device is empty; expected a device index or name substring as `afsearch devices` lists them")
        }
    }

    func select() throws -> ComputeDevice { try ComputeDevice.select(device) }
}

/// `afsearch devices`: every OpenCL device, the one afsearch would use marked with `*`.
struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List OpenCL devices and mark the default."
    )

    @Flag(name: .long, help: "Print the devices and the default's index as JSON.")
    var json = false

    @Flag(name: .long, help: "Also print versions and extensions of every device.")
    var verbose = false

    struct Listing: Encodable {
        /// Index of the device a run would use now (AFSEARCH_DEVICE considered).
        var defaultIndex: Int
        var selector: String?
        var devices: [DeviceInfo]
    }

    func run() async throws {
        let devices = try ComputeDevice.list()
        let selector = ProcessInfo.processInfo.environment[DeviceSelector.environmentVariable]
        var defaultIndex: Int
        var why = "first GPU, else first CPU"
        do {
            defaultIndex = try DeviceSelector.resolve(selector, among: devices, source: DeviceSelector.environmentVariable)
            if let selector, !selector.trimmingCharacters(in: .whitespaces).isEmpty {
                why = "\(DeviceSelector.environmentVariable)=\(selector)"
            }
        } catch {
            // The listing is where one goes to fix a bad selector: show it, and say what is wrong.
            FileHandle.standardError.write(Data("warning: \(error)\n".utf8))
            defaultIndex = DeviceSelector.defaultIndex(among: devices) ?? 0
            why += "; \(DeviceSelector.environmentVariable) matches nothing and other commands will fail"
        }
        if json {
            try JSONOutput.print(Listing(defaultIndex: defaultIndex, selector: selector, devices: devices))
            return
        }
        print(Self.table(devices, defaultIndex: defaultIndex))
        print("* = default (\(why)); choose another with --device INDEX|NAME or \(DeviceSelector.environmentVariable)")
        if verbose {
            for device in devices {
                print("\n#\(device.index) \(device.name)")
                print("  vendor:     \(device.vendor)")
                print("  platform:   \(device.platformName) (\(device.platformVersion))")
                print("  device:     \(device.deviceVersion); driver \(device.driverVersion)")
                print("  work-items: max \(device.maxWorkItemSizes.map(String.init).joined(separator: " x ")), native float vector \(device.nativeFloatVectorWidth)")
                print("  extensions: \(device.extensions.joined(separator: " "))")
            }
        }
    }

    static func table(_ devices: [DeviceInfo], defaultIndex: Int) -> String {
        let header = ["", "#", "name", "type", "platform", "CUs", "MHz", "global", "local", "max WG", "float vec", "OpenCL C"]
        let rows = devices.map { device -> [String] in
            [device.index == defaultIndex ? "*" : "", String(device.index), device.name, device.kind.rawValue,
             device.platformName, String(device.computeUnits), String(device.maxClockMHz),
             byteSize(device.globalMemoryBytes), byteSize(device.localMemoryBytes), String(device.maxWorkGroupSize),
             String(device.preferredFloatVectorWidth), device.openCLCVersion.replacingOccurrences(of: "OpenCL C ", with: "")]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func byteSize(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
