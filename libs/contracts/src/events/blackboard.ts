import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, MaxLength, Min } from 'class-validator';
import { defineEvent } from '../registry';
import { STEP_PATH_PATTERN } from './steps';
import { MAX_INPUT_TEXT } from './workflow';

/** An entry on a board (topic `blackboard.<board>`, key = workflow id). */
export class BoardEntryPosted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  board!: string;

  /** Stable: seeds are `seed-<i>`, a source's entry is `<source>:<entry it reacted to>`. */
  @IsString()
  @IsNotEmpty()
  entryId!: string;

  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  kind!: string;

  @IsString()
  @MaxLength(MAX_INPUT_TEXT)
  text!: string;

  /** Who posted it: `seed`, or the knowledge source's name. */
  @IsString()
  postedBy!: string;

  /** Position on the board (1 = first), assigned by the controller when it materializes the entry. */
  @IsOptional()
  @IsInt()
  @Min(1)
  sequence?: number;
}

export const BoardEntryPostedV1 = defineEvent('board.entry-posted', 1, 'event', BoardEntryPosted);
