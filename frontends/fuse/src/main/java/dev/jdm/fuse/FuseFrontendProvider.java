package dev.jdm.fuse;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.FrontendProvider;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code fuse} frontend: mounts a directory with one regular file per device when
 * {@code jdm.frontends.fuse.enabled} is true ({@code jdm serve --fuse DIR}).
 */
public final class FuseFrontendProvider implements FrontendProvider {
  @Override
  public String name() {
    return "fuse";
  }

  @Override
  public List<ConfigException.ValidationProblem> check(Config config) {
    try {
      FuseSettings.from(config);
      return List.of();
    } catch (ConfigException.ValidationFailed e) {
      List<ConfigException.ValidationProblem> problems = new ArrayList<>();
      e.problems().forEach(problems::add);
      return problems;
    }
  }

  @Override
  public Optional<Frontend> start(DeviceMapper mapper, Config config) throws IOException {
    FuseSettings settings = FuseSettings.from(config);
    if (!settings.enabled()) {
      return Optional.empty();
    }
    try {
      return Optional.of(FuseFrontend.start(mapper, settings));
    } catch (IOException e) {
      throw new IOException("fuse: " + e.getMessage(), e);
    }
  }
}
