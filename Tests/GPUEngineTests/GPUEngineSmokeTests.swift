import Testing
@testable import GPUEngine
