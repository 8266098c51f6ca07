// jsdom has no DragEvent, which Lumino's widgets refer to when they load.
if (typeof globalThis.DragEvent === 'undefined') {
  (globalThis as { DragEvent?: unknown }).DragEvent = class DragEvent extends MouseEvent {};
}
