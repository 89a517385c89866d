import { Type } from 'class-transformer';
import {
  IsArray,
  IsDefined,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry';
import { AggregationStrategySpec, MAX_BID_WINDOW_MS } from '../workflow-spec';
import { STEP_PATH_PATTERN } from './steps';
import { TaskUsage } from './task';
import { DocumentInput, SKILL_NAME_PATTERN } from './workflow';

/** Work put up for bids (owner → market maker and bidders, on market.asks; key = market). */
export class MarketAsk {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  askId!: string;

  /** The market is the capability asked for: a skill name. */
  @Matches(SKILL_NAME_PATTERN)
  market!: string;

  @IsNumber()
  @Min(0)
  budget!: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  maxEstimatedMs?: number;

  /** Epoch ms after which the ask no longer matches. */
  @IsInt()
  expiresAt!: number;

  /**
   * How long the ask collects bids (from when the market maker accepts it) before it is filled
   * with the best of them: lowest price, then earliest arrival, then bidder. Absent or 0: the
   * ask trades continuously (the first crossing bid fills it on arrival).
   */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_BID_WINDOW_MS)
  bidWindowMs?: number;

  /** The owner step's attempt (absent: 1); a re-opened market step asks again as its next attempt. */
  @IsOptional()
  @IsInt()
  @Min(1)
  attempt?: number;

  @IsDefined()
  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

/** A worker's offer for an ask (on market.bids; key = market). */
export class MarketBid {
  @IsString()
  @IsNotEmpty()
  bidId!: string;

  @IsString()
  @IsNotEmpty()
  askId!: string;

  @Matches(SKILL_NAME_PATTERN)
  market!: string;

  /** `worker@<instance>`: who does the work if the bid wins. */
  @IsString()
  @IsNotEmpty()
  workerId!: string;

  @IsNumber()
  @Min(0)
  price!: number;

  @IsInt()
  @Min(0)
  estimatedMs!: number;

  @IsInt()
  expiresAt!: number;
}

/** A match (market maker → everyone, on market.fills): the winning worker does the work. */
export class MarketFill {
  @IsString()
  fillId!: string;

  @IsString()
  askId!: string;

  @IsString()
  bidId!: string;

  @Matches(SKILL_NAME_PATTERN)
  market!: string;

  @IsString()
  workerId!: string;

  @IsNumber()
  price!: number;

  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  /** The ask's `attempt` (absent: 1): the attempt the winner's result is for. */
  @IsOptional()
  @IsInt()
  @Min(1)
  attempt?: number;

  @IsDefined()
  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

/** An ask that found no crossing bid before it expired (on market.fills). */
export class MarketAskExpired {
  @IsString()
  askId!: string;

  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @Matches(SKILL_NAME_PATTERN)
  market!: string;

  @IsNumber()
  budget!: number;
}

/**
 * Delayed on `timers` until an ask's bidding window closes; the market maker passes it on to
 * `market.bids`, where it is judged behind the bids published before it: it fills the ask with
 * the best of them.
 */
export class MarketWindowClose {
  @IsString()
  askId!: string;

  @Matches(SKILL_NAME_PATTERN)
  market!: string;
}

/** Delayed on `timers` until an ask's expiry: the market maker then expires it if unfilled. */
export class MarketExpiryCheck {
  @IsString()
  askId!: string;

  @Matches(SKILL_NAME_PATTERN)
  market!: string;
}

export class SolverAnswer {
  @IsInt()
  @Min(0)
  solver!: number;

  @IsObject()
  output!: Record<string, unknown>;

  /** What the solver's task used of model calls: the orchestrator charges a round's to the workflow's budget. */
  @IsOptional()
  @ValidateNested()
  @Type(() => TaskUsage)
  usage?: TaskUsage;
}

/** Run solver rounds (orchestrator → market maker, on market.rounds). */
export class SolverStart {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @Matches(SKILL_NAME_PATTERN)
  skill!: string;

  @IsDefined()
  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @IsInt()
  @Min(2)
  solvers!: number;

  @IsInt()
  @Min(1)
  rounds!: number;

  @IsDefined()
  @ValidateNested()
  @Type(() => AggregationStrategySpec)
  strategy!: AggregationStrategySpec;
}

/** A round is over: every solver's answer, which the next round's solvers are given (market.rounds). */
export class SolverRoundCompleted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(1)
  round!: number;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SolverAnswer)
  answers!: SolverAnswer[];
}

/** The last round's answers, for the aggregator to compile (market.rounds). */
export class SolverAnswers {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @Matches(SKILL_NAME_PATTERN)
  skill!: string;

  @IsDefined()
  @ValidateNested()
  @Type(() => AggregationStrategySpec)
  strategy!: AggregationStrategySpec;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SolverAnswer)
  answers!: SolverAnswer[];
}

/** The compiled answer (aggregator → orchestrator, on workflow.events). */
export class SolverCompleted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsObject()
  output!: Record<string, unknown>;
}

/** The rounds could not finish (every solver of a round failed). */
export class SolverFailed {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  reason!: string;
}

export const MarketAskV1 = defineEvent('market.ask', 1, 'command', MarketAsk);
export const MarketBidV1 = defineEvent('market.bid', 1, 'event', MarketBid);
export const MarketFillV1 = defineEvent('market.fill', 1, 'event', MarketFill);
export const MarketAskExpiredV1 = defineEvent('market.ask-expired', 1, 'event', MarketAskExpired);
export const MarketExpiryCheckV1 = defineEvent('market.expiry-check', 1, 'command', MarketExpiryCheck);
export const MarketWindowCloseV1 = defineEvent('market.window-close', 1, 'command', MarketWindowClose);
export const SolverStartV1 = defineEvent('solver.start', 1, 'command', SolverStart);
export const SolverRoundCompletedV1 = defineEvent('solver.round-completed', 1, 'event', SolverRoundCompleted);
export const SolverAnswersV1 = defineEvent('solver.answers', 1, 'event', SolverAnswers);
export const SolverCompletedV1 = defineEvent('solver.completed', 1, 'event', SolverCompleted);
export const SolverFailedV1 = defineEvent('solver.failed', 1, 'event', SolverFailed);
