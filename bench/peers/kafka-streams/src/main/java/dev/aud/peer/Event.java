package dev.aud.peer;

/** One decoded input event: the customer, its type (Rules.PURCHASE...), its time, the fields the rules read. */
final class Event {
  String customer;
  int type;
  long time;
  /** purchase.amount; null when absent or null in the record. */
  Double amount;
  String category;
  String channel;
  String brand;
}
