#include "kube/endpoint_discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_files.h"

namespace meshprobe::kube {
namespace {

using testing::HasSubstr;

Service istiod_service() {
  return *parse_service_list(test::fixture("services-istio-system.json"))->items.begin();
}
std::vector<EndpointSlice> istiod_slices() {
  return parse_endpoint_slice_list(test::fixture("endpointslices-istiod.json"))->items;
}

TEST(ServiceHosts, ReadsNameAndNamespaceOfAServiceName) {
  EXPECT_EQ(parse_service_host("istiod.istio-system.svc"), (ServiceName{"istiod", "istio-system"}));
  EXPECT_EQ(parse_service_host("istiod-1-22.istio-system.svc.cluster.local"),
            (ServiceName{"istiod-1-22", "istio-system"}));
}

TEST(ServiceHosts, RefusesOtherNames) {
  EXPECT_FALSE(parse_service_host("istiod.istio-system"));
  EXPECT_FALSE(parse_service_host("10.0.0.1"));
  EXPECT_FALSE(parse_service_host("istiod.istio-system.svc."));
  EXPECT_FALSE(parse_service_host("example.com"));
  EXPECT_FALSE(parse_service_host(".istio-system.svc"));
}

TEST(ServiceHosts, TheHostIsTheNameTheApiServerUses) {
  EXPECT_EQ((ServiceName{"istiod", "istio-system"}).host(), "istiod.istio-system.svc");
}

TEST(PortMapping, ServicePort443ReachesTheNumericTargetPort15017) {
  Service service = istiod_service();
  EndpointSlice slice;  // no ports listed: the numeric targetPort decides
  auto port = endpoint_port(service, 443, slice);
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_EQ(*port, 15017);
}

TEST(PortMapping, ANamedTargetPortIsResolvedThroughTheEndpointSlice) {
  auto service = parse_service(test::fixture("service-istiod-named-target-port.json"));
  ASSERT_TRUE(service);
  auto port = endpoint_port(*service, 443, istiod_slices()[0]);
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_EQ(*port, 15017);
}

TEST(PortMapping, TheSlicePortWinsOverTheServicesNumber) {
  // Pods of a newer version listen elsewhere: the slice has the truth.
  Service service = istiod_service();
  EndpointSlice slice;
  slice.ports = {{"https-webhook", 16017, "TCP"}};
  EXPECT_EQ(*endpoint_port(service, 443, slice), 16017);
}

TEST(PortMapping, AUrlNamingThePodPortItselfIsTakenAsIs) {
  auto port = endpoint_port(istiod_service(), 15017, istiod_slices()[0]);
  ASSERT_TRUE(port) << port.error().message;
  EXPECT_EQ(*port, 15017);
}

TEST(PortMapping, AnUnknownPortIsRefusedListingTheServicesPorts) {
  auto port = endpoint_port(istiod_service(), 8443, istiod_slices()[0]);
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().message, HasSubstr("has no port 8443"));
  EXPECT_THAT(port.error().message, HasSubstr("443->15017 (https-webhook)"));
}

TEST(PortMapping, ANamedTargetPortWithoutSliceInformationIsRefused) {
  auto service = parse_service(test::fixture("service-istiod-named-target-port.json"));
  EndpointSlice slice;
  slice.name = "istiod-manual";
  auto port = endpoint_port(*service, 443, slice);
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().message, HasSubstr("named port \"webhook\""));
}

TEST(Endpoints, ListsReadyAndNotReadyAddressesWithTheirPods) {
  auto found = endpoints_of(istiod_service(), 443, istiod_slices());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->port_name, "https-webhook");
  ASSERT_EQ(found->endpoints.size(), 4u);
  EXPECT_EQ(found->endpoints[0].address, "10.8.0.12");
  EXPECT_EQ(found->endpoints[0].port, 15017);
  EXPECT_TRUE(found->endpoints[0].ready);
  EXPECT_EQ(found->endpoints[0].pod, "istiod-5f8d7c9b4-abcde");
  EXPECT_EQ(found->endpoints[1].address, "10.8.1.7");
  EXPECT_FALSE(found->endpoints[1].ready);
  EXPECT_TRUE(found->endpoints[1].terminating);
}

TEST(Endpoints, WritesIpv6AddressesAsTheProberDoes) {
  auto found = endpoints_of(istiod_service(), 443, istiod_slices());
  ASSERT_TRUE(found);
  EXPECT_EQ(found->endpoints[3].address, "fd00:10:8::c");
}

TEST(Endpoints, ListsAnAddressInTwoSlicesOnce) {
  std::vector<EndpointSlice> slices = istiod_slices();
  slices.push_back(slices[0]);
  auto found = endpoints_of(istiod_service(), 443, slices);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->endpoints.size(), 4u);
}

TEST(Endpoints, SkipsFqdnSlices) {
  EndpointSlice fqdn;
  fqdn.address_type = "FQDN";
  fqdn.endpoints = {{{"istiod.example.com"}, true, true, false, "", "", ""}};
  auto found = endpoints_of(istiod_service(), 443, {fqdn});
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->endpoints.empty());
}

TEST(Revisions, MatchTheBaseNameAndItsDashedRevisions) {
  EXPECT_TRUE(is_revision_of("istiod", "istiod"));
  EXPECT_TRUE(is_revision_of("istiod-1-22", "istiod"));
  EXPECT_TRUE(is_revision_of("istiod-canary", "istiod"));
  EXPECT_FALSE(is_revision_of("istiodx", "istiod"));
  EXPECT_FALSE(is_revision_of("istiod-", "istiod"));
  EXPECT_FALSE(is_revision_of("istio-ingressgateway", "istiod"));
}

}  // namespace
}  // namespace meshprobe::kube
