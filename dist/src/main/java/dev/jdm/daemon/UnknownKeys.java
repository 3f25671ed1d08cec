package dev.jdm.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the keys of a user's file that no {@code reference.conf} declares, which typesafe-config's
 * {@code checkValid} lets through: a typo would otherwise be ignored in silence.
 */
record UnknownKeys(Config reference, List<String> problems) {
  /** Sections whose keys are names the user chooses, and what each entry may hold. */
  private static final Map<String, Set<String>> NAMED = Map.of(
      "jdm.devices", Set.of("table", "read-only"),
      "jdm.images", Set.of("path", "size"));
  /** Each frontend checks its own section, so jdm accepts any name here. */
  private static final String FRONTENDS = "jdm.frontends";

  /** Adds a {@code FILE: LINE: unknown key PATH} line for each unknown key under {@code object}. */
  void walk(ConfigObject object, String parent) {
    if (parent.equals(FRONTENDS)) {
      return;
    }
    for (Map.Entry<String, ConfigValue> e : object.entrySet()) {
      String path = JdmConfig.key(parent, e.getKey());
      ConfigValue v = e.getValue();
      if (!reference.hasPathOrNull(path)) {
        unknown(path, v);
      } else if (NAMED.containsKey(path)) {
        if (v instanceof ConfigObject named) {
          walkNamed(named, path, NAMED.get(path));
        }
      } else if (v instanceof ConfigObject child
          && reference.getValue(path).valueType() == ConfigValueType.OBJECT) {
        walk(child, path);
      }
    }
  }

  private void walkNamed(ConfigObject named, String parent, Set<String> allowed) {
    for (Map.Entry<String, ConfigValue> entry : named.entrySet()) {
      if (entry.getValue() instanceof ConfigObject item) {
        String itemPath = JdmConfig.key(parent, entry.getKey());
        for (Map.Entry<String, ConfigValue> key : item.entrySet()) {
          if (!allowed.contains(key.getKey())) {
            unknown(JdmConfig.key(itemPath, key.getKey()), key.getValue());
          }
        }
      }
    }
  }

  private void unknown(String path, ConfigValue v) {
    problems.add(v.origin().description() + ": unknown key " + path);
  }
}
