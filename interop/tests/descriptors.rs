//! aqueduct-build writes the file descriptor set with every transitive import.

use prost::Message as _;

#[test]
fn descriptor_set_holds_the_protos_and_their_imports() {
    let bytes: &[u8] = aqueduct::include_file_descriptor_set!();
    let set = prost_types::FileDescriptorSet::decode(bytes).expect("a valid FileDescriptorSet");
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    for want in [
        "grpc/testing/test.proto",
        "grpc/testing/messages.proto",
        "grpc/testing/empty.proto",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // Imports come before the files that import them.
    let pos = |n: &str| names.iter().position(|x| *x == n);
    assert!(pos("grpc/testing/empty.proto") < pos("grpc/testing/test.proto"));
    let test = set
        .file
        .iter()
        .find(|f| f.name() == "grpc/testing/test.proto")
        .expect("test.proto");
    let services: Vec<&str> = test.service.iter().map(|s| s.name()).collect();
    assert_eq!(services, ["TestService", "UnimplementedService"]);
}

#[test]
fn each_generated_service_carries_its_descriptor_set() {
    use aqueduct::Service;
    use interop::pb::test_service_server::TestServiceServer;
    use interop::server::Interop;

    let bytes = <TestServiceServer<Interop> as Service>::FILE_DESCRIPTOR_SET;
    let set = prost_types::FileDescriptorSet::decode(bytes).expect("a valid FileDescriptorSet");
    let declares_the_service = set.file.iter().any(|f| {
        f.package() == "grpc.testing" && f.service.iter().any(|s| s.name() == "TestService")
    });
    assert!(
        declares_the_service,
        "TestService is not in its own descriptor set"
    );
    // Its imports travel with it, so a reflection client can resolve every type.
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    assert!(names.contains(&"grpc/testing/empty.proto"), "{names:?}");
    assert!(names.contains(&"grpc/testing/messages.proto"), "{names:?}");
}
