package dev.aud.peer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * From a JSON record to an Event, as engine/input-record.ts decodes it:
 * the customer id from "customer_id" (a non-empty string or a finite number),
 * the type from "type" (records of an undeclared type are skipped), the time
 * from "ts" (epoch ms, floored, or ISO-8601; absent or null: the Kafka record
 * timestamp), and every declared field of the event checked against its type
 * (absent or null is null; a wrong type makes the record bad). Bad records,
 * including records that are not a JSON object, are skipped too: the result
 * is null and the caller counts them.
 */
final class EventDecoder {
  enum Outcome { EVENT, SKIPPED, BAD }

  private static final JsonFactory JSON = JsonFactory.builder().build();

  /** A declared field that holds an object or an array: never of the declared type. */
  private static final Object OTHER = new Object();
  /** JSON null: same as absent. */
  private static final Object NULL = new Object();

  // Top-level fields the rules read.
  private static final String[] NAMES = {
    "customer_id", "type", "ts", "amount", "category", "sku", "channel", "url", "brand", "tier", "email_opt_in", "country"
  };
  private static final int CUSTOMER = 0, TYPE = 1, TS = 2, AMOUNT = 3, CATEGORY = 4, SKU = 5, CHANNEL = 6, URL = 7,
      BRAND = 8, TIER = 9, OPT_IN = 10, COUNTRY = 11;

  private final Object[] values = new Object[NAMES.length];
  Outcome last;

  /** The event, or null (then `last` says SKIPPED or BAD). */
  Event decode(byte[] value, long recordTimestamp) {
    last = Outcome.BAD;
    if (value == null) return null;
    java.util.Arrays.fill(values, null);
    try (JsonParser p = JSON.createParser(value)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        int i = indexOf(p.currentName());
        JsonToken v = p.nextToken();
        if (i < 0) { p.skipChildren(); continue; }
        switch (v) {
          case VALUE_STRING: values[i] = p.getText(); break;
          case VALUE_NUMBER_INT:
          case VALUE_NUMBER_FLOAT: values[i] = p.getDoubleValue(); break;
          case VALUE_TRUE: values[i] = Boolean.TRUE; break;
          case VALUE_FALSE: values[i] = Boolean.FALSE; break;
          case VALUE_NULL: values[i] = NULL; break;
          default: p.skipChildren(); values[i] = OTHER; break;
        }
      }
      if (t != JsonToken.END_OBJECT) return null;
      if (p.nextToken() != null) return null; // trailing content: JSON.parse rejects it
    } catch (IOException | RuntimeException e) {
      return null;
    }

    String customer;
    Object k = values[CUSTOMER];
    if (k instanceof String && !((String) k).isEmpty()) customer = (String) k;
    else if (k instanceof Double && Double.isFinite((Double) k)) customer = jsNumberToString((Double) k);
    else return null;

    if (!(values[TYPE] instanceof String) || ((String) values[TYPE]).isEmpty()) return null;
    int type = typeIndex((String) values[TYPE]);
    if (type < 0) { last = Outcome.SKIPPED; return null; }

    long time;
    Object ts = values[TS];
    if (ts == null || ts == NULL) {
      time = recordTimestamp;
    } else if (ts instanceof Double) {
      double d = (Double) ts;
      if (!Double.isFinite(d)) return null;
      time = (long) Math.floor(d);
    } else if (ts instanceof String) {
      Long parsed = parseIsoTime((String) ts);
      if (parsed == null) return null;
      time = parsed;
    } else {
      return null;
    }

    Event e = new Event();
    e.customer = customer;
    e.type = type;
    e.time = time;
    switch (type) {
      case Rules.PURCHASE:
        if (!isNumber(values[AMOUNT]) || !isString(values[CATEGORY]) || !isString(values[SKU]) || !isString(values[CHANNEL])) return null;
        e.amount = values[AMOUNT] instanceof Double ? (Double) values[AMOUNT] : null;
        e.category = str(values[CATEGORY]);
        e.channel = str(values[CHANNEL]);
        break;
      case Rules.PAGE_VIEW:
        if (!isString(values[URL]) || !isString(values[BRAND])) return null;
        e.brand = str(values[BRAND]);
        break;
      case Rules.ADD_TO_CART:
        if (!isString(values[SKU])) return null;
        break;
      case Rules.LOGIN:
        break;
      case Rules.PROFILE_UPDATE:
        if (!isString(values[TIER]) || !isBool(values[OPT_IN]) || !isString(values[COUNTRY])) return null;
        break;
      default:
        return null;
    }
    last = Outcome.EVENT;
    return e;
  }

  private static boolean absent(Object v) { return v == null || v == NULL; }
  private static boolean isNumber(Object v) { return absent(v) || (v instanceof Double && Double.isFinite((Double) v)); }
  private static boolean isString(Object v) { return absent(v) || v instanceof String; }
  private static boolean isBool(Object v) { return absent(v) || v instanceof Boolean; }
  private static String str(Object v) { return v instanceof String ? (String) v : null; }

  private static int indexOf(String name) {
    for (int i = 0; i < NAMES.length; i++) if (NAMES[i].equals(name)) return i;
    return -1;
  }

  private static int typeIndex(String type) {
    for (int i = 0; i < Rules.EVENT_NAMES.length; i++) if (Rules.EVENT_NAMES[i].equals(type)) return i;
    return -1;
  }

  /** JavaScript's String(number) for the ids that occur in practice (integers below 2^53). */
  static String jsNumberToString(double d) {
    if (d == Math.rint(d) && Math.abs(d) < 9.007199254740992E15) return Long.toString((long) d);
    return Double.toString(d);
  }

  // The pattern engine/input-record.ts accepts before it calls Date.parse.
  private static final Pattern ISO_8601 = Pattern.compile(
      "^(\\d{4})-(\\d{2})-(\\d{2})(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?(Z|([+-])(\\d{2}):?(\\d{2}))?)?$");

  /**
   * Date.parse (V8) of a string the pattern accepts: months 1-12, days 1-31
   * (rolling over, so Feb 30 is Mar 2), hours 0-24 (24 only at 24:00:00.000),
   * fractions truncated to milliseconds, offsets up to 23:59; a date alone is
   * UTC, a date-time without offset is local time (the JVM's zone, as Node
   * uses the process's zone).
   */
  static Long parseIsoTime(String s) {
    long fast = parseCanonical(s);
    if (fast != Long.MIN_VALUE) return fast;
    Matcher m = ISO_8601.matcher(s);
    if (!m.matches()) return null;
    int year = Integer.parseInt(m.group(1));
    int month = Integer.parseInt(m.group(2));
    int day = Integer.parseInt(m.group(3));
    if (month < 1 || month > 12 || day < 1 || day > 31) return null;
    long days = daysFromCivil(year, month, 1) + (day - 1);
    if (m.group(4) == null) return days * Rules.DAY;
    int hour = Integer.parseInt(m.group(4));
    int minute = Integer.parseInt(m.group(5));
    int second = m.group(6) != null ? Integer.parseInt(m.group(6)) : 0;
    int millis = 0;
    if (m.group(7) != null) {
      String f = (m.group(7) + "00").substring(0, 3);
      millis = Integer.parseInt(f);
    }
    if (minute > 59 || second > 59) return null;
    if (hour > 24 || (hour == 24 && (minute != 0 || second != 0 || millis != 0))) return null;
    long local = days * Rules.DAY + hour * Rules.HOUR + minute * Rules.MINUTE + second * 1000L + millis;
    String zone = m.group(8);
    if (zone == null) {
      ZoneId z = ZoneId.systemDefault();
      LocalDateTime ldt = LocalDateTime.ofEpochSecond(Math.floorDiv(local, 1000L), (int) Math.floorMod(local, 1000L) * 1_000_000, ZoneOffset.UTC);
      long offsetSeconds = z.getRules().getOffset(ldt).getTotalSeconds();
      return local - offsetSeconds * 1000L;
    }
    if (zone.equals("Z")) return local;
    int oh = Integer.parseInt(m.group(10));
    int om = Integer.parseInt(m.group(11));
    if (oh > 23 || om > 59) return null;
    long offset = (oh * 60L + om) * Rules.MINUTE;
    return m.group(9).equals("+") ? local - offset : local + offset;
  }

  /**
   * The common shapes, without a regex: YYYY-MM-DDTHH:MM:SSZ and
   * YYYY-MM-DDTHH:MM:SS.sssZ, with the same range checks as below;
   * Long.MIN_VALUE for anything else (the general path decides).
   */
  private static long parseCanonical(String s) {
    int len = s.length();
    if ((len != 20 && len != 24) || s.charAt(len - 1) != 'Z' || s.charAt(4) != '-' || s.charAt(7) != '-'
        || s.charAt(10) != 'T' || s.charAt(13) != ':' || s.charAt(16) != ':') return Long.MIN_VALUE;
    int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
    int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
    int millis = 0;
    if (len == 24) {
      if (s.charAt(19) != '.') return Long.MIN_VALUE;
      millis = digits(s, 20, 3);
    }
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || millis < 0) return Long.MIN_VALUE;
    if (month < 1 || month > 12 || day < 1 || day > 31 || minute > 59 || second > 59 || hour > 23) return Long.MIN_VALUE;
    long days = daysFromCivil(year, month, 1) + (day - 1);
    return days * Rules.DAY + hour * Rules.HOUR + minute * Rules.MINUTE + second * 1000L + millis;
  }

  /** The decimal number of n ASCII digits at `at`, or -1. */
  private static int digits(String s, int at, int n) {
    int v = 0;
    for (int i = at; i < at + n; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  }

  /** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
  static long daysFromCivil(long y, int mo, int d) {
    y -= mo <= 2 ? 1 : 0;
    long era = Math.floorDiv(y, 400);
    long yoe = y - era * 400;
    long doy = (153L * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }
}
