import Foundation

/// PoCL (the CPU OpenCL driver used in CI and on laptops) keeps a kernel cache in
/// `$POCL_CACHE_DIR`, else `$XDG_CACHE_HOME/pocl/kcache`, else `$HOME/.cache/pocl/kcache`. When that
/// folder cannot be created — a service account whose HOME does not exist, a read-only home in a
/// container — PoCL hides its device entirely (`CL_DEVICE_NOT_FOUND`), which looks like a missing
/// driver. Before the first OpenCL call the runtime checks the folder and, only when PoCL would fail,
/// points `POCL_CACHE_DIR` at a private folder under the temporary directory.
enum PoCLEnvironment {
    /// The folder PoCL would use, or `nil` when `POCL_CACHE_DIR` is set (the user decided) or
    /// neither XDG_CACHE_HOME nor HOME is set (PoCL then uses a folder under /tmp).
    static func intendedCacheFolder(environment: [String: String]) -> String? {
        if let explicit = environment["POCL_CACHE_DIR"], !explicit.isEmpty { return nil }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/pocl/kcache" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/pocl/kcache" }
        return nil
    }

    /// The replacement folder when `intendedCacheFolder` cannot be made writable, else `nil`.
    static func fallbackCacheFolder(environment: [String: String], canUse: (String) -> Bool) -> String? {
        guard let intended = intendedCacheFolder(environment: environment), !canUse(intended) else { return nil }
        return NSTemporaryDirectory() + "afsearch-pocl-cache-\(getuid())"
    }

    /// Creates `path` if needed and reports whether this process may write there.
    static func isUsableFolder(_ path: String) -> Bool {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return access(path, W_OK | X_OK) == 0
    }

    /// Called once, under the device catalog's lock, before `clGetPlatformIDs`.
    static func prepare() {
        let environment = ProcessInfo.processInfo.environment
        guard let fallback = fallbackCacheFolder(environment: environment, canUse: isUsableFolder) else { return }
        if isUsableFolder(fallback) { setenv("POCL_CACHE_DIR", fallback, 1) }
    }
}
