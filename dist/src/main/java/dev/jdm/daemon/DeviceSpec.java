package dev.jdm.daemon;

import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A device declared in the configuration ({@code jdm.devices.NAME}), with where its table came from
 * so that an error in table line N points at the file's line.
 *
 * @param lineOrigins one origin per table line when the table was a list, else empty
 */
public record DeviceSpec(String name, String table, boolean readOnly, ConfigOrigin origin,
    List<ConfigOrigin> lineOrigins) {
  /** The kernel ends a table error with {@code (line N)}. */
  private static final Pattern TABLE_LINE = Pattern.compile("\\(line (\\d+)\\)$");

  static DeviceSpec of(String name, ConfigValue table, boolean readOnly) {
    if (table.valueType() == ConfigValueType.LIST) {
      List<ConfigValue> items = (ConfigList) table;
      List<String> lines = items.stream().map(i -> String.valueOf(i.unwrapped())).toList();
      return new DeviceSpec(name, String.join("\n", lines), readOnly, table.origin(),
          items.stream().map(ConfigValue::origin).toList());
    }
    return new DeviceSpec(name, String.valueOf(table.unwrapped()), readOnly, table.origin(),
        List.of());
  }

  /**
   * {@code FILE: LINE} of the table line an error message names, else of the table. A multi-line
   * string's origin is the line where it ends, so line N sits that many lines before its end.
   */
  public String where(String message) {
    Matcher m = TABLE_LINE.matcher(message);
    if (!m.find()) {
      return origin.description();
    }
    int n = Integer.parseInt(m.group(1));
    if (!lineOrigins.isEmpty()) {
      return lineOrigins.get(Math.min(n, lineOrigins.size()) - 1).description();
    }
    int lines = table.split("\n", -1).length;
    int line = Math.max(1, origin.lineNumber() - (lines - n));
    return origin.lineNumber() < 0 ? origin.description() : origin.withLineNumber(line).description();
  }
}
