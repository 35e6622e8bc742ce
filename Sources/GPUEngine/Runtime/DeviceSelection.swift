import Foundation

/// Why no device could be chosen. Every case says what there is and what was expected.
public enum DeviceSelectionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The OpenCL loader found no platform: no ICD (driver) is installed.
    case noPlatform(detail: String)
    /// Platforms exist but expose no device.
    case noDevices
    /// `--device` / `AFSEARCH_DEVICE` matched nothing; carries the listing it was matched against.
    case noMatch(selector: String, source: String, devices: [DeviceInfo])

    /// The Debian/Ubuntu packages that provide the OpenCL loader, headers and the PoCL CPU device.
    public static let systemPackages = "ocl-icd-opencl-dev opencl-headers pocl-opencl-icd"

    public var description: String {
        switch self {
        case .noPlatform(let detail):
            return """
                no OpenCL platform found (\(detail)). Install an OpenCL driver; on Debian/Ubuntu the CPU \
                driver is: sudo apt-get install \(Self.systemPackages)   (or run `make deps`)
                """
        case .noDevices:
            return """
                OpenCL platforms exist but none has a device; install a driver (for CPUs: pocl-opencl-icd). \
                PoCL also hides its device when it cannot write its kernel cache: check POCL_CACHE_DIR
                """
        case .noMatch(let selector, let source, let devices):
            let listing = devices.map { "  \($0.index): \($0.name) [\($0.kind.rawValue), \($0.platformName)]" }
            return """
                \(source) '\(selector)' matches no OpenCL device; expected a device index or a substring of a \
                device or platform name. Devices:
                \(listing.joined(separator: "\n"))
                """
        }
    }
}

/// Device choice as a pure function of the selector and the device list, so it is testable
/// without touching the process environment.
public enum DeviceSelector {
    /// The environment variable consulted when no `--device` is given.
    public static let environmentVariable = "AFSEARCH_DEVICE"

    /// The default device: the first GPU, else the first CPU, else the first device of any kind.
    public static func defaultIndex(among devices: [DeviceInfo]) -> Int? {
        (devices.first { $0.kind == .gpu } ?? devices.first { $0.kind == .cpu } ?? devices.first)?.index
    }

    /// Resolves `selector` (a decimal index, or a case-insensitive substring of a device name or
    /// platform name; the first match wins) against `devices`. `nil` or an empty/blank selector
    /// means the default. `source` names where the selector came from, for the error message.
    public static func resolve(
        _ selector: String?, among devices: [DeviceInfo], source: String = "device selector"
    ) throws -> Int {
        guard !devices.isEmpty else { throw DeviceSelectionError.noDevices }
        let wanted = selector?.trimmingCharacters(in: .whitespaces) ?? ""
        if wanted.isEmpty { return defaultIndex(among: devices)! }
        if let index = Int(wanted) {
            if devices.contains(where: { $0.index == index }) { return index }
            throw DeviceSelectionError.noMatch(selector: wanted, source: source, devices: devices)
        }
        let needle = wanted.lowercased()
        if let hit = devices.first(where: {
            $0.name.lowercased().contains(needle) || $0.platformName.lowercased().contains(needle)
        }) {
            return hit.index
        }
        throw DeviceSelectionError.noMatch(selector: wanted, source: source, devices: devices)
    }
}
