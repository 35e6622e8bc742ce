import Foundation
import Testing
@testable import GPUEngine

@Suite struct RuntimeDeviceTests {
    @Test func discoveryFindsDevicesWithSaneFacts() throws {
        let devices = try ComputeDevice.list()
        #expect(!devices.isEmpty)
        for (position, info) in devices.enumerated() {
            #expect(info.index == position)
            #expect(!info.name.isEmpty)
            #expect(!info.driverVersion.isEmpty)
            #expect(info.computeUnits > 0)
            #expect(info.globalMemoryBytes > 0)
            #expect(info.maxAllocationBytes > 0 && info.maxAllocationBytes <= info.globalMemoryBytes)
            #expect(info.maxWorkGroupSize > 0)
            #expect(!info.maxWorkItemSizes.isEmpty)
            #expect(info.preferredFloatVectorWidth > 0)
            #expect(info.openCLCVersion.hasPrefix("OpenCL C"))
        }
    }

    @Test func selectReturnsTheSharedDefaultInstance() throws {
        let devices = try ComputeDevice.list()
        let a = try ComputeDevice.select(nil)
        let b = try ComputeDevice.open(index: a.info.index)
        #expect(a === b)
        // The environment may name a device (CI can set AFSEARCH_DEVICE); only without it is this the default.
        if ProcessInfo.processInfo.environment["AFSEARCH_DEVICE"] == nil {
            #expect(a.info.index == DeviceSelector.defaultIndex(among: devices))
        }
        let byName = try ComputeDevice.select(String(a.info.name.prefix(6)))
        #expect(byName.info.name.lowercased().contains(a.info.name.prefix(6).lowercased()))
        #expect(a.peakHint.computeUnits == a.info.computeUnits)
    }

    @Test func unknownSelectorThroughTheRealDeviceListIsAListingError() throws {
        #expect {
            _ = try ComputeDevice.select("no-such-device-xyz")
        } throws: { error in
            guard let selection = error as? DeviceSelectionError else { return false }
            let text = selection.description
            return text.contains("no-such-device-xyz") && text.contains(RuntimeFixture.device.info.name)
        }
    }
}

@Suite struct RuntimePoCLEnvironmentTests {
    @Test func fallbackOnlyWhenPoCLsOwnFolderIsUnusable() {
        let home = ["HOME": "/home/ci"]
        #expect(PoCLEnvironment.intendedCacheFolder(environment: home) == "/home/ci/.cache/pocl/kcache")
        #expect(PoCLEnvironment.intendedCacheFolder(environment: ["HOME": "/h", "XDG_CACHE_HOME": "/x"]) == "/x/pocl/kcache")
        #expect(PoCLEnvironment.fallbackCacheFolder(environment: home, canUse: { _ in true }) == nil)
        let fallback = PoCLEnvironment.fallbackCacheFolder(environment: home, canUse: { $0 != "/home/ci/.cache/pocl/kcache" })
        #expect(fallback?.hasPrefix(NSTemporaryDirectory()) == true)
        // An explicit POCL_CACHE_DIR is the user's decision, even when unusable; no HOME means PoCL uses /tmp.
        #expect(PoCLEnvironment.fallbackCacheFolder(environment: ["HOME": "/h", "POCL_CACHE_DIR": "/p"], canUse: { _ in false }) == nil)
        #expect(PoCLEnvironment.fallbackCacheFolder(environment: [:], canUse: { _ in false }) == nil)
    }

    @Test func usableFolderIsCreatedAndAFileIsNotAFolder() throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(PoCLEnvironment.isUsableFolder(folder.appendingPathComponent("a/b").path))
        let file = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        #expect(!PoCLEnvironment.isUsableFolder(file.appendingPathComponent("kcache").path))
    }
}

@Suite struct RuntimeSelectionTests {
    static func info(_ index: Int, _ name: String, _ kind: DeviceInfo.Kind, platform: String = "P") -> DeviceInfo {
        DeviceInfo(index: index, name: name, vendor: "v", platformName: platform, platformVersion: "OpenCL 3.0",
                   driverVersion: "1", deviceVersion: "OpenCL 3.0", openCLCVersion: "OpenCL C 1.2", kind: kind,
                   computeUnits: 1, maxClockMHz: 1, globalMemoryBytes: 1, maxAllocationBytes: 1, localMemoryBytes: 1,
                   maxWorkGroupSize: 1, maxWorkItemSizes: [1], preferredFloatVectorWidth: 1, nativeFloatVectorWidth: 1,
                   extensions: [])
    }

    let devices = [
        info(0, "pthread-skylake-avx512", .cpu, platform: "Portable Computing Language"),
        info(1, "NVIDIA H100", .gpu, platform: "NVIDIA CUDA"),
        info(2, "Intel Arc", .gpu, platform: "Intel OpenCL"),
    ]

    @Test func defaultIsFirstGPUElseFirstCPU() throws {
        #expect(try DeviceSelector.resolve(nil, among: devices) == 1)
        #expect(try DeviceSelector.resolve("  ", among: devices) == 1)
        #expect(try DeviceSelector.resolve(nil, among: [devices[0]]) == 0)
        let accelFirst = [Self.info(0, "fpga", .accelerator), Self.info(1, "cpu", .cpu)]
        #expect(try DeviceSelector.resolve(nil, among: accelFirst) == 1)
    }

    @Test func indexAndCaseInsensitiveSubstring() throws {
        #expect(try DeviceSelector.resolve("2", among: devices) == 2)
        #expect(try DeviceSelector.resolve("PTHREAD", among: devices) == 0)
        #expect(try DeviceSelector.resolve("arc", among: devices) == 2)
        #expect(try DeviceSelector.resolve("portable", among: devices) == 0)  // platform name
    }

    @Test func unknownSelectorListsEveryDevice() {
        for selector in ["7", "radeon"] {
            do {
                _ = try DeviceSelector.resolve(selector, among: devices, source: "AFSEARCH_DEVICE")
                Issue.record("'\(selector)' should not match")
            } catch let error as DeviceSelectionError {
                let text = error.description
                #expect(text.contains("AFSEARCH_DEVICE '\(selector)'"))
                for device in devices { #expect(text.contains("\(device.index): \(device.name)")) }
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func emptyListAndMissingPlatformNameTheFix() throws {
        #expect(throws: DeviceSelectionError.noDevices) { try DeviceSelector.resolve(nil, among: []) }
        // What the ICD loader returns with no driver installed (checked by hand with OCL_ICD_VENDORS=/empty).
        let missing = try #require(ComputeDevice.missingPlatformError(status: -1001, platformCount: 0))
        #expect(missing.description.contains("ocl-icd-opencl-dev opencl-headers pocl-opencl-icd"))
        #expect(ComputeDevice.missingPlatformError(status: 0, platformCount: 0) != nil)
        #expect(ComputeDevice.missingPlatformError(status: 0, platformCount: 1) == nil)
        #expect(ComputeDevice.missingPlatformError(status: -6, platformCount: 0) == nil)  // a real failure: OpenCLError
    }

    @Test func openCLErrorNamesTheCodeAndTheCall() {
        let error = OpenCLError(code: -54, call: "clEnqueueNDRangeKernel", detail: "kernel 'k'")
        #expect(error.codeName == "CL_INVALID_WORK_GROUP_SIZE")
        #expect(error.description == "clEnqueueNDRangeKernel failed: CL_INVALID_WORK_GROUP_SIZE (-54): kernel 'k'")
        #expect(OpenCLError.name(of: -11) == "CL_BUILD_PROGRAM_FAILURE")
        #expect(OpenCLError.name(of: -9999) == "unknown OpenCL error")
    }
}
