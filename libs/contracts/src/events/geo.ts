import { IsInt, IsNotEmpty, IsString, Matches, Min } from 'class-validator';
import { defineEvent } from '../registry';

const REGION = /^[A-Za-z0-9_-]+$/;

/**
 * A region took over another's workflows (topic `mesh.regions`, replicated; docs/geo.md): every
 * workflow homed `lost` (the lost region at `epoch`, its home `region` or `region#epoch`) is from
 * now on the adopter's. The lost region reads it when it comes back: it never runs those again,
 * and homes its new workflows at `epoch + 1`.
 */
export class RegionAdopted {
  /** The lost region. */
  @Matches(REGION, { message: 'region must be a region name (e.g. us-east)' })
  region!: string;

  /** The lost region's epoch adopted: its homes `region` (0) or `region#epoch`. */
  @IsInt()
  @Min(0)
  epoch!: number;

  /** The region that adopted its workflows. */
  @Matches(REGION, { message: 'adoptedBy must be a region name (e.g. eu-west)' })
  adoptedBy!: string;

  /** Who asked (the CLI, an operator, the orchestrator's admin route). */
  @IsString()
  @IsNotEmpty()
  requestedBy!: string;
}

export const RegionAdoptedV1 = defineEvent('region.adopted', 1, 'event', RegionAdopted);
