"""ZooKeeper with a TLS client port, as Zuul requires.

Debian's zookeeper package lacks two Netty jars on its classpath for the
Netty (TLS) connection factory, so we start QuorumPeerMain with java
ourselves and add them.
"""

import glob
import os
import socket
import ssl

from ci_tools.harness.ports import free_port
from ci_tools.harness.process import ManagedProcess
from ci_tools.harness.tls import LoopbackCA

ZK_JARS = ["/usr/share/java/zookeeper.jar"]
NETTY_JARS = ["netty-codec.jar", "netty-resolver.jar", "netty-handler.jar", "netty-buffer.jar",
              "netty-common.jar", "netty-transport.jar", "netty-transport-native-unix-common.jar",
              "netty-transport-native-epoll.jar"]  # fmt: skip


def classpath(conf_dir):
    jars = list(ZK_JARS)
    for name in NETTY_JARS:
        path = os.path.join("/usr/share/java", name)
        if os.path.exists(path):
            jars.append(path)
    # slf4j/log4j bindings so ZooKeeper logs somewhere readable
    jars += sorted(glob.glob("/usr/share/java/slf4j-api.jar"))
    jars += sorted(glob.glob("/usr/share/java/slf4j-simple.jar"))
    return ":".join([conf_dir, *jars])


class ZooKeeper:
    def __init__(self, work_dir, ca):
        self.dir = os.path.join(work_dir, "zookeeper")
        self.log_path = os.path.join(work_dir, "logs", "zookeeper.log")
        self.ca = ca if isinstance(ca, LoopbackCA) else LoopbackCA(ca)
        self.port = None
        self.process = None
        self.client_key = self.client_cert = None

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def _write_config(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.ca.ensure()
        _, _, server_keystore = self.ca.issue("zookeeper")
        self.client_key, self.client_cert, _ = self.ca.issue("zuul")
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(
                "tickTime=2000\n"
                f"dataDir={self.dir}/data\n"
                f"secureClientPort={self.port}\n"
                "secureClientPortAddress=127.0.0.1\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=ruok,srvr\n"
                "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
                f"ssl.keyStore.location={server_keystore}\n"
                "ssl.keyStore.type=PEM\n"
                f"ssl.trustStore.location={self.ca.ca_cert}\n"
                "ssl.trustStore.type=PEM\n"
                "ssl.clientAuth=need\n"
                "autopurge.purgeInterval=1\n"
            )
        return cfg

    def _healthy(self):
        ctx = ssl.create_default_context(cafile=self.ca.ca_cert)
        ctx.load_cert_chain(self.client_cert, self.client_key)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ruok")
                return tls.recv(4) == b"imok"

    def start(self):
        cfg = self._write_config()
        argv = [
            "java", "-Xmx256m", "-Dzookeeper.jmx.log4j.disable=true",
            "-cp", classpath(self.dir),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg,
        ]  # fmt: skip
        self.process = ManagedProcess("zookeeper", argv, self.log_path, healthy=self._healthy)
        self.process.start()
        self.process.wait_healthy(timeout=60)

    def stop(self):
        if self.process:
            self.process.stop()
