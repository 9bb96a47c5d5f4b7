// The shape of a name (a pane, a lesson) and of a request's id, written once: the protocol, the
// lesson format, the CLI and the web's Markdown all check names against this.
import { z } from 'zod';

/** A lowercase word: a letter, then up to 31 letters, digits or dashes. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export const isName = (s: string): boolean => NAME_PATTERN.test(s);

export const paneNameSchema = z.string().regex(NAME_PATTERN, 'a pane name is a lowercase word');
export const lessonIdSchema = z.string().regex(NAME_PATTERN, 'a lesson id is a lowercase word');

/** The id a client gives a request, echoed in its answer. */
export const requestIdSchema = z.union([z.number().int(), z.string().max(64)]);
