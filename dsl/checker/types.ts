/**
 * Value types of the checker and the rules that combine them.
 *
 * 'error' is the type of anything already reported (an unknown event, say):
 * it fits everywhere, so one mistake yields one diagnostic, not a cascade.
 */
export type ValueType = 'number' | 'string' | 'bool' | 'time' | 'duration' | 'null' | 'error';

export function fits(actual: ValueType, expected: ValueType): boolean {
  return actual === expected || actual === 'error' || actual === 'null' || expected === 'error';
}

/** The result of `l op r` for + - * /, or undefined when the operands do not combine. */
export function arithmeticResult(op: string, l: ValueType, r: ValueType): ValueType | undefined {
  if (l === 'error' || r === 'error') return 'error';
  if (l === 'null' || r === 'null') return l === 'null' ? (r === 'null' ? 'null' : r) : l;
  if (l === 'number' && r === 'number') return 'number';
  if (op === '+' || op === '-') {
    if (l === 'time' && r === 'duration') return 'time';
    if (l === 'duration' && r === 'time' && op === '+') return 'time';
    if (l === 'time' && r === 'time' && op === '-') return 'duration';
    if (l === 'duration' && r === 'duration') return 'duration';
  }
  if (op === '*' && ((l === 'number' && r === 'duration') || (l === 'duration' && r === 'number'))) return 'duration';
  if (op === '/' && l === 'duration' && r === 'number') return 'duration';
  return undefined;
}

/** Whether two types may be compared with `op`. */
export function comparable(op: string, l: ValueType, r: ValueType): boolean {
  if (l === 'error' || r === 'error' || l === 'null' || r === 'null') return true;
  if (l !== r) return false;
  if (l === 'bool') return op === '==' || op === '!=';
  return true;
}

export function typeName(t: ValueType): string {
  switch (t) {
    case 'number': return 'a number';
    case 'string': return 'a string';
    case 'bool': return 'true/false';
    case 'time': return 'a time';
    case 'duration': return 'a duration';
    case 'null': return 'null';
    case 'error': return 'an unknown value';
  }
}
