package dev.jdm.fuse;

import dev.jdm.fuse.proto.FuseSession;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.MappedDevice;
import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running FUSE mount: one file per device of a {@link DeviceMapper}, following devices as they
 * are created and removed. Closing it detaches loop devices still bound to its files, unmounts, and
 * waits for the kernel to let go.
 */
final class FuseFrontend implements Frontend {
  private static final Logger LOG = LoggerFactory.getLogger(FuseFrontend.class);

  private final DeviceMapper mapper;
  private final DeviceFiles files;
  private final FuseSession session;
  private final FuseSettings settings;
  private boolean closed;

  private FuseFrontend(DeviceMapper mapper, DeviceFiles files, FuseSession session,
      FuseSettings settings) {
    this.mapper = mapper;
    this.files = files;
    this.session = session;
    this.settings = settings;
  }

  /** Clears a stale mount if there is one, mounts, and serves {@code mapper}'s devices. */
  static FuseFrontend start(DeviceMapper mapper, FuseSettings settings) throws IOException {
    Path dir = Mountpoint.prepare(settings.mountpoint(), settings.probeTimeout());
    DeviceFiles files = new DeviceFiles(settings.attrTimeout().toNanos());
    mapper.addListener(files);
    for (MappedDevice d : mapper.list()) {
      files.created(d);
    }
    FuseSession session;
    try {
      session = FuseSession.mount(dir, "jdm", settings.sessionOptions(), files);
    } catch (IOException | RuntimeException e) {
      mapper.removeListener(files);
      throw e;
    }
    files.notifyThrough(session);
    LOG.info("fuse: mounted on {} (FUSE 7.{}): one file per device, {} worker threads, requests"
        + " up to {} KiB", dir, session.terms().minor(), settings.threads(),
        session.terms().maxWrite() / 1024);
    return new FuseFrontend(mapper, files, session, settings);
  }

  /** Where the files are. */
  Path mountpoint() {
    return session.mountPoint();
  }

  @Override
  public String describe() {
    return "fuse on " + session.mountPoint();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    LoopDevices.detachAll(session.mountPoint());
    mapper.removeListener(files);
    session.close(settings.unmountTimeout());
    files.releaseAll();
    LOG.info("fuse: unmounted {}", session.mountPoint());
  }
}
