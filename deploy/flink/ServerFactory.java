/*
 * The gRPC server factory of the Beam Fn API, as PyFlink's TaskManager uses it, bound to loopback.
 *
 * Why this file exists: a TaskManager running a Python operator starts gRPC servers (control, data,
 * state, logging, provisioning) that its Python worker connects to. The class flink-python 1.20 ships
 * under this name builds them with NettyServerBuilder.forPort(port), which listens on every
 * interface, although the worker always connects over loopback. deploy/local/stack.py compiles this
 * file against flink-python and puts the result in place of the shipped classes, in a copy of the jar
 * on the cluster's classpath; the public API is the shipped one, so the rest of flink-python is
 * unchanged. Remove it when flink-python binds these servers to the address it advertises.
 */
package org.apache.beam.sdk.fn.server;

import org.apache.beam.model.pipeline.v1.Endpoints;
import org.apache.beam.sdk.fn.channel.SocketAddressFactory;
import org.apache.beam.vendor.grpc.v1p48p1.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p48p1.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p48p1.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p48p1.io.grpc.netty.NettyServerBuilder;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Creates the gRPC servers of the Fn API, each listening on the address it advertises. */
public abstract class ServerFactory {

    /** Workers ping every 20 s; allow a little more often than that. */
    private static final int PERMITTED_KEEP_ALIVE_SECONDS = 19;

    public static ServerFactory createDefault() {
        return new InetSocketAddressServerFactory(UrlFactory.createDefault(), () -> 0);
    }

    public static ServerFactory createWithUrlFactory(UrlFactory urlFactory) {
        return new InetSocketAddressServerFactory(urlFactory, () -> 0);
    }

    public static ServerFactory createWithPortSupplier(Supplier<Integer> portSupplier) {
        return new InetSocketAddressServerFactory(UrlFactory.createDefault(), portSupplier);
    }

    public static ServerFactory createWithUrlFactoryAndPortSupplier(
            UrlFactory urlFactory, Supplier<Integer> portSupplier) {
        return new InetSocketAddressServerFactory(urlFactory, portSupplier);
    }

    /** The epoll transport is not used by PyFlink; this gives the same loopback server over NIO. */
    public static ServerFactory createEpollSocket() {
        return createDefault();
    }

    /** Unix domain sockets are not used by PyFlink and need native transport libraries. */
    public static ServerFactory createEpollDomainSocket() {
        throw new UnsupportedOperationException(
                "Unix domain socket servers are not available in this build of the Fn API server factory");
    }

    /** Starts a server on a free port and writes the address clients should use into the builder. */
    public abstract Server allocateAddressAndCreate(
            List<BindableService> services, Endpoints.ApiServiceDescriptor.Builder apiServiceDescriptor)
            throws IOException;

    /** Starts a server on the host and port of the given descriptor's URL. */
    public abstract Server create(
            List<BindableService> services, Endpoints.ApiServiceDescriptor serviceDescriptor)
            throws IOException;

    /** Servers on a TCP address: loopback and a supplied (by default ephemeral) port. */
    public static class InetSocketAddressServerFactory extends ServerFactory {
        private final UrlFactory urlFactory;
        private final Supplier<Integer> portSupplier;

        private InetSocketAddressServerFactory(UrlFactory urlFactory, Supplier<Integer> portSupplier) {
            this.urlFactory = urlFactory;
            this.portSupplier = portSupplier;
        }

        @Override
        public Server allocateAddressAndCreate(
                List<BindableService> services, Endpoints.ApiServiceDescriptor.Builder apiServiceDescriptor)
                throws IOException {
            InetSocketAddress address =
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), portSupplier.get());
            Server server = start(services, address);
            // The address itself, not "localhost", which a client may resolve to another loopback address.
            String host = address.getAddress().getHostAddress();
            apiServiceDescriptor.setUrl(
                    urlFactory.createUrl(host.contains(":") ? "[" + host + "]" : host, server.getPort()));
            return server;
        }

        @Override
        public Server create(List<BindableService> services, Endpoints.ApiServiceDescriptor serviceDescriptor)
                throws IOException {
            SocketAddress address = SocketAddressFactory.createFrom(serviceDescriptor.getUrl());
            if (!(address instanceof InetSocketAddress)) {
                throw new IllegalArgumentException(
                        "a TCP server needs a host:port address, got " + serviceDescriptor.getUrl());
            }
            return start(services, (InetSocketAddress) address);
        }

        /** The one change from the shipped class: forAddress (this address only), not forPort (all). */
        private static Server start(List<BindableService> services, InetSocketAddress address)
                throws IOException {
            NettyServerBuilder builder =
                    NettyServerBuilder.forAddress(address)
                            // Message size is limited by the buffers of the layers above.
                            .maxInboundMessageSize(Integer.MAX_VALUE)
                            .permitKeepAliveTime(PERMITTED_KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
            for (BindableService service : services) {
                builder.addService(
                        ServerInterceptors.intercept(service, GrpcContextHeaderAccessorProvider.interceptor()));
            }
            return builder.build().start();
        }
    }

    /** Builds the URL a client uses from the server's host and port. */
    @FunctionalInterface
    public interface UrlFactory {
        String createUrl(String address, int port);

        static UrlFactory createDefault() {
            return (host, port) -> host + ":" + port;
        }
    }
}
