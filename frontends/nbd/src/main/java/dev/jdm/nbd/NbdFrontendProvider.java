package dev.jdm.nbd;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.FrontendProvider;
import java.util.List;
import java.util.Optional;

/**
 * Starts the NBD server from {@code jdm.frontends.nbd}; found by the daemon with
 * {@link java.util.ServiceLoader}.
 */
public final class NbdFrontendProvider implements FrontendProvider {
  @Override
  public String name() {
    return "nbd";
  }

  @Override
  public List<ConfigException.ValidationProblem> check(Config config) {
    return NbdConfig.problems(
        config.withFallback(ConfigFactory.defaultReference(getClass().getClassLoader())));
  }

  @Override
  public Optional<Frontend> start(DeviceMapper mapper, Config config) throws Exception {
    NbdConfig c = NbdConfig.from(
        config.withFallback(ConfigFactory.defaultReference(getClass().getClassLoader())));
    if (!c.enabled()) {
      return Optional.empty();
    }
    return Optional.of(NbdServer.start(mapper, c));
  }
}
